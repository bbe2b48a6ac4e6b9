"""``modgate export image``: a tiny random ViT checkpoint -> model.onnx + metadata, with parity,
dynamic batch, category checks and the activation taken from the checkpoint's problem type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from export.errors import ExportError
from gateway.server import load_classifiers
from models.image_preprocess import PreprocessSpec, preprocess_batch
from modgate.pb import moderation_pb2 as pb
from modgate.settings import DEFAULT_POLICY, GatewaySettings
from tests.images import encode, photo
from tests.integration.conftest import StartGateway

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
ort = pytest.importorskip("onnxruntime")

from export.image_onnx import export_image_checkpoint  # noqa: E402

IMAGE_SIZE = 32
LABELS = ("safe", "violence", "gore")
METADATA_KEYS = [
    "kind",
    "version",
    "source",
    "checkpoint",
    "input_name",
    "output_name",
    "activation",
    "labels",
    "categories",
    "preprocess",
    "preprocess_source",
    "parity",
    "opset",
    "exported_at",
]
PROCESSOR_CONFIG: dict[str, Any] = {
    "image_processor_type": "ViTImageProcessor",
    "do_resize": True,
    "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}


def tiny_vit(
    path: Path, *, problem_type: str | None = None, processor: dict[str, Any] | None = None
) -> Path:
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=IMAGE_SIZE,
        patch_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        problem_type=problem_type,
    )
    transformers.ViTForImageClassification(config).eval().save_pretrained(path)
    if processor is not None:
        (path / "preprocessor_config.json").write_text(json.dumps(processor))
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_vit(tmp_path_factory.mktemp("vit") / "checkpoint", processor=PROCESSOR_CONFIG)


def test_export_writes_a_servable_artifact(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "image"
    report = export_image_checkpoint(
        checkpoint, out, categories={"violence": "violence", "gore": "gore"}
    )

    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "labels.json",
        "metadata.json",
        "model.onnx",
    ]
    assert report.model_path == out / "model.onnx"
    assert report.source == "transformers"
    assert report.labels == LABELS
    assert report.parity_rows == 4
    assert report.parity_max_abs_diff <= 1e-4
    assert report.opset == 17
    assert report.version.startswith("vit-")
    assert len(report.version) == len("vit-") + 12

    meta = json.loads((out / "metadata.json").read_text())
    assert list(meta) == METADATA_KEYS
    assert meta["kind"] == "image"
    assert meta["version"] == report.version
    assert meta["source"] == "transformers"
    assert meta["checkpoint"] == str(checkpoint.absolute())
    assert (meta["input_name"], meta["output_name"]) == ("pixel_values", "logits")
    assert meta["activation"] == "softmax"
    assert meta["labels"] == list(LABELS)
    assert meta["categories"] == {"violence": "violence", "gore": "gore"}
    assert meta["preprocess_source"] == "preprocessor_config.json"
    assert meta["parity"]["rows"] == 4
    assert meta["parity"]["tolerance"] == 1e-4
    assert meta["parity"]["max_abs_diff"] == report.parity_max_abs_diff
    assert meta["opset"] == 17
    assert meta["exported_at"].endswith("Z")
    spec = PreprocessSpec.from_dict(meta["preprocess"])
    assert spec.input_shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert spec.mean == (0.485, 0.456, 0.406)

    assert json.loads((out / "labels.json").read_text()) == {
        "0": "safe",
        "1": "violence",
        "2": "gore",
    }
    card = (out / "MODEL_CARD.md").read_text()
    assert "MUST BE FILLED IN BY WHOEVER TRAINED THIS CHECKPOINT" in card
    assert "modgate ships no" in card
    assert "pretrained ViT" in card
    assert "| `violence` | `violence` |" in card


def test_onnx_runs_at_any_batch_and_matches_torch(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "image"
    export_image_checkpoint(checkpoint, out, categories={"violence": "violence"}, version="v1")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["version"] == "v1"
    spec = PreprocessSpec.from_dict(meta["preprocess"])

    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, size=(48 + 7 * i, 40, 3), dtype=np.uint8) for i in range(5)]
    pixels = preprocess_batch(images, spec)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    model = transformers.ViTForImageClassification.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        expected = model(pixel_values=torch.from_numpy(pixels)).logits.numpy()
    for batch in (1, 5):
        (logits,) = session.run(["logits"], {"pixel_values": pixels[:batch]})
        assert logits.shape == (batch, len(LABELS))
        assert np.abs(logits - expected[:batch]).max() <= 1e-4


def test_categories_are_checked_and_nothing_is_written(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "image"
    with pytest.raises(ExportError, match="nudity"):
        export_image_checkpoint(checkpoint, out, categories={"nudity": "nsfw"})
    with pytest.raises(ExportError, match="Violence"):
        export_image_checkpoint(checkpoint, out, categories={"Violence": "violence"})
    with pytest.raises(ExportError, match="category"):
        export_image_checkpoint(checkpoint, out, categories={"bad-name": "violence"})
    with pytest.raises(ExportError, match="at least one"):
        export_image_checkpoint(checkpoint, out, categories={})
    with pytest.raises(ExportError, match="activation"):
        export_image_checkpoint(checkpoint, out, categories={"gore": "gore"}, activation="relu")
    assert not out.exists() or not any(out.iterdir())


def test_multi_label_checkpoint_uses_sigmoid_and_default_preprocessing(tmp_path: Path) -> None:
    checkpoint = tiny_vit(tmp_path / "ml", problem_type="multi_label_classification")
    out = tmp_path / "image"
    export_image_checkpoint(checkpoint, out, categories={"gore": "gore"})
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["activation"] == "sigmoid"
    assert meta["preprocess_source"] == "default"
    spec = PreprocessSpec.from_dict(meta["preprocess"])
    assert spec == PreprocessSpec(
        resize=(IMAGE_SIZE, IMAGE_SIZE), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    )
    # The caller may still override the activation.
    export_image_checkpoint(checkpoint, out, categories={"gore": "gore"}, activation="softmax")
    assert json.loads((out / "metadata.json").read_text())["activation"] == "softmax"


def test_preprocessing_must_fit_the_model(tmp_path: Path) -> None:
    processor = {**PROCESSOR_CONFIG, "size": {"height": 64, "width": 64}}
    checkpoint = tiny_vit(tmp_path / "mismatch", processor=processor)
    with pytest.raises(ExportError, match="expects 32x32"):
        export_image_checkpoint(checkpoint, tmp_path / "out", categories={"gore": "gore"})
    processor = {**PROCESSOR_CONFIG, "size": {"shortest_edge": 32}}
    checkpoint = tiny_vit(tmp_path / "shortest", processor=processor)
    with pytest.raises(ExportError, match="not supported"):
        export_image_checkpoint(checkpoint, tmp_path / "out", categories={"gore": "gore"})


def test_not_a_checkpoint_is_an_export_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="ViTForImageClassification"):
        export_image_checkpoint(tmp_path / "empty", tmp_path / "out", categories={"gore": "gore"})


def test_timm_without_timm_is_a_clear_export_error(tmp_path: Path) -> None:
    try:
        import timm  # noqa: F401
    except Exception:  # timm, or the torchvision it imports, is unusable here
        pass
    else:
        pytest.skip("timm imports on this machine")
    weights = tmp_path / "model.pth"
    weights.write_bytes(b"")
    with pytest.raises(ExportError, match="timm needs torchvision"):
        export_image_checkpoint(
            weights,
            tmp_path / "out",
            categories={"gore": "gore"},
            timm_model="vit_base_patch16_224",
        )


def test_parity_failure_raises_and_writes_nothing(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from export import image_onnx
    from export.errors import ParityError

    class Shifted(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixel_values: Any) -> Any:
            return self.net(pixel_values) + 1e-3

    original = image_onnx.export_image_onnx

    def export_shifted(net: Any, spec: PreprocessSpec, path: Path, *, opset: int) -> None:
        original(Shifted(net), spec, path, opset=opset)

    monkeypatch.setattr(image_onnx, "export_image_onnx", export_shifted)
    out = tmp_path / "image"
    with pytest.raises(ParityError) as caught:
        export_image_checkpoint(checkpoint, out, categories={"gore": "gore"})
    assert caught.value.max_abs_diff == pytest.approx(1e-3, rel=1e-2)
    assert caught.value.rows == 4
    assert not any(out.iterdir())


async def test_an_exported_vit_plugs_into_the_gateway_by_configuration(
    checkpoint: Path, tmp_path: Path, start_gateway: StartGateway
) -> None:
    """No code: the artifact directory in MODGATE_CLASSIFIERS and the categories' thresholds
    in the policy file are all it takes to serve a fine-tuned ViT."""
    out = tmp_path / "vit"
    export_image_checkpoint(checkpoint, out, categories={"violence": "violence", "gore": "gore"})
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    for category in ("violence", "gore"):
        policy["categories"][category] = {"remove_above": 0.99, "defer_above": 0.9}
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy))
    overrides: dict[str, Any] = {
        "policy_path": policy_path,
        "ocr": {"engine": "off"},
        "hashbank": {"enabled": False},
    }
    urls = {"violence_vit": f"onnx://{out}"}
    classifiers = load_classifiers(GatewaySettings(classifiers=urls, **overrides))
    _, stub = await start_gateway(classifiers, **overrides)
    image = pb.Image(data=encode(photo("chelsea"), "PNG"))
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="v", images=[image]), timeout=5)
    assert {m.name for m in verdict.models} == {"violence_vit"}
    # A random tiny ViT: its scores mean nothing, but they are probabilities that sum with
    # "safe" to one, and the policy read them.
    assert 0.0 < verdict.scores["violence"] + verdict.scores["gore"] < 1.0
    assert verdict.ocr == "off"
    assert not verdict.degraded
