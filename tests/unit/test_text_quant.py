"""Batch-invariant int8 (``export.text_quant``): a row's scores do not depend on its batch.

A tiny random BERT is exported and quantized both ways; ONNX Runtime's dynamic quantization
(one activation scale per tensor) is the control that shows the drift the rewrite removes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch", reason="train extra not installed")

from export.text_net import TextClassifierNet  # noqa: E402
from export.text_onnx import export_text_onnx  # noqa: E402
from export.text_quant import quantize_per_token  # noqa: E402
from retrain.text_model import bert_encoder  # noqa: E402

VOCAB = 2000


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(7)
    config = {
        "vocab_size": VOCAB,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "max_position_embeddings": 130,
        "pad_token_id": 1,
    }
    net = TextClassifierNet(bert_encoder(config), 3).eval()
    with torch.no_grad():  # outliers in some features, as trained transformers have
        net.encoder.embeddings.word_embeddings.weight[:, :3] *= 20
    root = tmp_path_factory.mktemp("quant")
    export_text_onnx(net, root / "fp32.onnx")
    quantize_per_token(root / "fp32.onnx", root / "token.onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(root / "fp32.onnx"),
        str(root / "dynamic.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
    )
    return {name: root / f"{name}.onnx" for name in ("fp32", "token", "dynamic")}


def _batch(lengths: list[int], seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.ones((len(lengths), max(lengths)), np.int64)
    mask = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(5, VOCAB, n)
        mask[i, :n] = 1
    return ids, mask


def _single_vs_batched(path: Path, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids, mask = _batch(lengths)
    batched = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    single = np.concatenate(
        [
            session.run(
                None, {"input_ids": ids[i : i + 1, :n], "attention_mask": mask[i : i + 1, :n]}
            )[0]
            for i, n in enumerate(lengths)
        ]
    )
    return single, batched


LENGTHS = [5, 64, 17, 128, 9, 40, 3, 90]


def test_per_token_int8_scores_do_not_depend_on_batch_mates(graphs: dict[str, Path]) -> None:
    single, batched = _single_vs_batched(graphs["token"], LENGTHS)
    assert np.abs(single - batched).max() <= 1e-5


def test_dynamic_quantization_drifts_with_batch_mates(graphs: dict[str, Path]) -> None:
    single, batched = _single_vs_batched(graphs["dynamic"], LENGTHS)
    assert np.abs(single - batched).max() > 1e-3  # the bug the rewrite fixes


def test_per_token_int8_stays_close_to_fp32(graphs: dict[str, Path]) -> None:
    ref, _ = _single_vs_batched(graphs["fp32"], LENGTHS)
    got, _ = _single_vs_batched(graphs["token"], LENGTHS)
    assert np.abs(ref - got).max() < 0.02


def test_rewrites_every_weighted_matmul_and_the_embedding_tables(graphs: dict[str, Path]) -> None:
    ops = [node.op_type for node in onnx.load(str(graphs["token"])).graph.node]
    assert "MatMulInteger" not in ops
    assert ops.count("MatMulIntegerToFloat") == 2 * 6
    fp32_ops = [node.op_type for node in onnx.load(str(graphs["fp32"])).graph.node]
    weighted = ops.count("MatMulIntegerToFloat")
    assert ops.count("MatMul") == fp32_ops.count("MatMul") - weighted  # attention's stay float
    assert ops.count("QuantizeLinear") == 2 * 4  # Q/K/V share one quantization per layer
    assert Path(graphs["token"]).stat().st_size < 0.5 * Path(graphs["fp32"]).stat().st_size
