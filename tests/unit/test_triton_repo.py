"""`modgate export triton`: the committed model repository, its agreement with the ONNX
artifacts, the python-backend model's batching, and the exporter's errors. No server runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
from typer.testing import CliRunner

from export.errors import ExportError
from export.triton_python_model import batch_groups, run_batched
from export.triton_repo import (
    BatchingOptions,
    TritonDevice,
    TritonRuntime,
    default_classifiers,
    export_triton_repo,
    model_spec,
    read_config,
)
from models.spam_features import N_FEATURES
from modgate.cli import app
from modgate.settings import ARTIFACTS_DIR, SOURCE_ROOT

COMMITTED = SOURCE_ROOT / "triton_repo"
COMMITTED_CONFIGS = sorted(COMMITTED.glob("*/config.pbtxt")) + sorted(
    COMMITTED.glob("*/configs/*.pbtxt")
)
SPAM = ARTIFACTS_DIR / "spam"
RERUN = "re-run `modgate export triton --out triton_repo --configs-only` and commit the result"


def spam_rows(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, N_FEATURES), dtype=np.float32)


def copy_spam(tmp_path: Path, **metadata: Any) -> Path:
    """A copy of the spam artifact with some metadata keys replaced."""
    artifact = tmp_path / "spam-artifact"
    shutil.copytree(SPAM, artifact)
    document = json.loads((artifact / "metadata.json").read_text(encoding="utf-8"))
    (artifact / "metadata.json").write_text(json.dumps(document | metadata), encoding="utf-8")
    return artifact


def test_the_committed_repository_holds_a_config_and_a_cpu_alternative_per_model() -> None:
    assert {p.relative_to(COMMITTED).as_posix() for p in COMMITTED_CONFIGS} == {
        f"{name}/{file}"
        for name in default_classifiers()
        for file in ("config.pbtxt", "configs/cpu.pbtxt")
    }


@pytest.mark.parametrize(
    "path", COMMITTED_CONFIGS, ids=lambda p: p.relative_to(COMMITTED).as_posix()
)
def test_committed_config_is_a_complete_onnxruntime_model_config(path: Path) -> None:
    config = text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
    model_dir = path.parent if path.name == "config.pbtxt" else path.parent.parent

    assert config.name == model_dir.name
    assert config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0
    assert config.HasField("dynamic_batching")
    assert config.dynamic_batching.preferred_batch_size
    assert len(config.instance_group) == 1
    assert config.version_policy.HasField("latest")
    assert config.parameters["modgate_version.1"].string_value
    for tensor in [*config.input, *config.output]:
        assert tensor.data_type != model_config_pb2.TYPE_INVALID, tensor.name
        assert tensor.dims, tensor.name


def test_the_cpu_alternative_differs_only_in_instance_kind_and_threads() -> None:
    gpu = read_config(COMMITTED / "text" / "config.pbtxt")
    cpu = read_config(COMMITTED / "text" / "configs" / "cpu.pbtxt")

    assert gpu.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert cpu.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert cpu.parameters["intra_op_thread_count"].string_value == "1"
    del cpu.instance_group[:], gpu.instance_group[:]
    del cpu.parameters["intra_op_thread_count"], cpu.parameters["inter_op_thread_count"]
    assert cpu == gpu


def test_committed_configs_match_a_fresh_export(tmp_path: Path) -> None:
    report = export_triton_repo(tmp_path, default_classifiers(), configs_only=True)

    assert sorted(report.files) == sorted(
        p.relative_to(COMMITTED).as_posix() for p in COMMITTED_CONFIGS
    ), f"triton_repo/ holds other models or files than a fresh export: {RERUN}"
    for relative in report.files:
        fresh = (tmp_path / relative).read_bytes()
        assert (COMMITTED / relative).read_bytes() == fresh, f"{relative} is stale: {RERUN}"


@pytest.mark.parametrize("name", ["text", "spam", "nsfw"])
def test_committed_config_tensors_are_those_of_the_onnx_model(name: str) -> None:
    spec = model_spec(name, default_classifiers()[name], device=TritonDevice.GPU)
    config = read_config(COMMITTED / name / "config.pbtxt")

    def declared(tensors: Any) -> list[tuple[str, str, tuple[int, ...]]]:
        return [
            (t.name, model_config_pb2.DataType.Name(t.data_type), tuple(t.dims)) for t in tensors
        ]

    assert declared(config.input) == [(t.name, t.data_type, t.dims) for t in spec.inputs]
    assert declared(config.output) == [(t.name, t.data_type, t.dims) for t in spec.outputs]
    assert config.parameters["modgate_version.1"].string_value == spec.modgate_version


def test_python_runtime_export_copies_weights_and_model_py_and_keeps_old_versions(
    tmp_path: Path,
) -> None:
    out = tmp_path / "repo"
    first = export_triton_repo(out, {"spam": SPAM}, runtime=TritonRuntime.PYTHON)
    config = read_config(out / "spam" / "config.pbtxt")

    assert config.backend == "python"
    assert not config.platform
    assert (out / "spam" / "1" / "model.onnx").read_bytes() == (SPAM / "model.onnx").read_bytes()
    assert (out / "spam" / "1" / "model.py").is_file()
    assert "spam/1/model.py" in first.files

    second = export_triton_repo(out, {"spam": SPAM}, runtime=TritonRuntime.PYTHON, version=2)
    parameters = read_config(out / "spam" / "config.pbtxt").parameters
    cpu_parameters = read_config(out / "spam" / "configs" / "cpu.pbtxt").parameters

    assert second.version == 2
    assert (out / "spam" / "2" / "model.onnx").is_file()
    for params in (parameters, cpu_parameters):
        assert params["modgate_version.1"].string_value == second.models[0].modgate_version
        assert params["modgate_version.2"].string_value == second.models[0].modgate_version


def test_a_version_whose_directory_is_gone_leaves_the_config(tmp_path: Path) -> None:
    export_triton_repo(tmp_path, {"spam": SPAM})
    shutil.rmtree(tmp_path / "spam" / "1")
    export_triton_repo(tmp_path, {"spam": SPAM}, version=2)

    assert sorted(read_config(tmp_path / "spam" / "config.pbtxt").parameters) == [
        "modgate_kind",
        "modgate_version.2",
    ]


def test_cpu_export_sets_thread_counts_and_writes_no_alternative(tmp_path: Path) -> None:
    report = export_triton_repo(
        tmp_path, {"spam": SPAM}, device=TritonDevice.CPU, configs_only=True
    )
    config = read_config(tmp_path / "spam" / "config.pbtxt")

    assert report.files == ("spam/config.pbtxt",)
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert config.parameters["intra_op_thread_count"].string_value == "1"
    assert config.parameters["inter_op_thread_count"].string_value == "1"
    assert not (tmp_path / "spam" / "1").exists()


def test_tensorrt_goes_into_the_gpu_config_only(tmp_path: Path) -> None:
    export_triton_repo(tmp_path, {"spam": SPAM}, tensorrt=True, configs_only=True)
    gpu = read_config(tmp_path / "spam" / "config.pbtxt")
    cpu = read_config(tmp_path / "spam" / "configs" / "cpu.pbtxt")

    (accelerator,) = gpu.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    assert dict(accelerator.parameters) == {
        "precision_mode": "FP16",
        "max_workspace_size_bytes": "1073741824",
    }
    assert not cpu.HasField("optimization")


def test_batching_options_reach_the_config(tmp_path: Path) -> None:
    batching = BatchingOptions(
        max_batch_size=16, preferred_batch_sizes=(4, 16), max_queue_delay_us=100, instances=3
    )
    export_triton_repo(tmp_path, {"spam": SPAM}, batching=batching, configs_only=True)
    config = read_config(tmp_path / "spam" / "config.pbtxt")

    assert config.max_batch_size == 16
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 16]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert config.instance_group[0].count == 3
    assert config.version_policy.latest.num_versions == 2


def test_text_on_gpu_falls_back_to_the_int8_model_with_a_note(tmp_path: Path) -> None:
    artifact = tmp_path / "text"
    artifact.mkdir()
    for name in ("metadata.json", "model.onnx"):
        (artifact / name).symlink_to(ARTIFACTS_DIR / "text" / name)

    gpu = model_spec("text", artifact, device=TritonDevice.GPU)
    (artifact / "model.fp32.onnx").symlink_to(ARTIFACTS_DIR / "text" / "model.onnx")

    assert gpu.weights.name == "model.onnx"
    assert any("int8" in note for note in gpu.notes)
    assert model_spec("text", artifact, device=TritonDevice.GPU).weights.name == "model.fp32.onnx"
    assert model_spec("text", artifact, device=TritonDevice.CPU).weights.name == "model.onnx"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {"n_features": N_FEATURES - 1},
            f"dims [{N_FEATURES - 1}] in the config but [{N_FEATURES}]",
        ),
        ({"input_name": "feats"}, "input 'feats' is not in"),
        ({"probabilities_output": "label"}, "TYPE_FP32 in the config but tensor(int64)"),
        ({"kind": "audio"}, "has kind 'audio'"),
        ({"n_features": "many"}, "n_features must be a positive integer"),
    ],
)
def test_a_spec_that_disagrees_with_the_onnx_model_is_refused(
    tmp_path: Path, metadata: dict[str, Any], message: str
) -> None:
    artifact = copy_spam(tmp_path, **metadata)

    with pytest.raises(ExportError, match=re.escape(message)):
        export_triton_repo(tmp_path / "repo", {"spam": artifact})
    assert not (tmp_path / "repo").exists()


def test_text_metadata_with_the_wrong_category_count_is_refused(tmp_path: Path) -> None:
    artifact = tmp_path / "text"
    artifact.mkdir()
    (artifact / "model.onnx").symlink_to(ARTIFACTS_DIR / "text" / "model.onnx")
    document = json.loads((ARTIFACTS_DIR / "text" / "metadata.json").read_text(encoding="utf-8"))
    document["categories"] = ["toxicity", "hate", "harassment"]
    (artifact / "metadata.json").write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(ExportError, match=r"output 'probabilities' has dims \[3\]"):
        model_spec("text", artifact, device=TritonDevice.CPU)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classifiers": {"spam": Path("/nonexistent/spam")}}, "no metadata.json in"),
        ({"classifiers": {"spam/v2": SPAM}}, "Triton model names"),
        ({"device": TritonDevice.CPU, "tensorrt": True}, "TensorRT runs only with"),
        ({"runtime": TritonRuntime.PYTHON, "tensorrt": True}, "TensorRT runs only with"),
        ({"version": 0}, "version must be at least 1"),
        ({"site_packages": ["/x"]}, "site_packages is for the python runtime"),
        ({"classifiers": {}}, "no classifiers"),
    ],
)
def test_bad_export_options_are_refused(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"classifiers": {"spam": SPAM}} | kwargs
    with pytest.raises(ExportError, match=message):
        export_triton_repo(tmp_path, **arguments)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preferred_batch_sizes": (8, 128)}, r"preferred batch sizes \[128\]"),
        ({"preferred_batch_sizes": (0,)}, r"preferred batch sizes \[0\]"),
        ({"instances": 0}, "instances must be at least 1"),
        ({"max_queue_delay_us": -1}, "max_queue_delay_us"),
    ],
)
def test_bad_batching_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        BatchingOptions(**options)


def test_an_unparsable_config_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "config.pbtxt").write_text("name: 'x'\nmax_batch_size: lots\n", encoding="utf-8")

    with pytest.raises(ExportError, match=r"config\.pbtxt"):
        read_config(tmp_path / "config.pbtxt")


def test_requests_group_by_shape_after_the_batch_dim() -> None:
    shapes = [{"ids": (1, 7)}, {"ids": (3, 9)}, {"ids": (2, 7)}, {"ids": (4, 9)}]

    assert batch_groups(shapes) == [[0, 2], [1, 3]]


def test_batched_run_equals_a_run_per_request() -> None:
    session = ort.InferenceSession(str(SPAM / "model.onnx"), providers=["CPUExecutionProvider"])
    requests = [{"features": spam_rows(rows, seed=rows)} for rows in (1, 3, 2)]
    calls: list[int] = []

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        calls.append(len(feeds["features"]))
        return list(session.run(["probabilities"], feeds))

    results = run_batched(run, requests)

    assert calls == [6]
    for request, result in zip(requests, results, strict=True):
        assert isinstance(result, list)
        (expected,) = session.run(["probabilities"], request)
        np.testing.assert_allclose(result[0], expected, rtol=0, atol=1e-6)


def test_a_failing_group_fails_only_its_own_requests() -> None:
    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if feeds["x"].shape[1] == 3:
            raise RuntimeError("bad width")
        return [feeds["x"].sum(axis=1)]

    requests = [{"x": np.ones((2, 3))}, {"x": np.ones((1, 4))}, {"x": np.ones((3, 3))}]
    results = run_batched(run, requests)

    assert isinstance(results[0], RuntimeError)
    assert isinstance(results[2], RuntimeError)
    assert isinstance(results[1], list)
    np.testing.assert_array_equal(results[1][0], [4.0])


def test_cli_exports_a_classifier_and_prints_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "export",
            "triton",
            "--out",
            str(tmp_path),
            "--classifier",
            f"spam={SPAM}",
            "--runtime",
            "python",
            "--device",
            "cpu",
            "--preferred",
            "4,8",
            "--max-batch",
            "8",
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files"] == ["spam/config.pbtxt", "spam/1/model.onnx", "spam/1/model.py"]
    assert read_config(tmp_path / "spam" / "config.pbtxt").max_batch_size == 8


@pytest.mark.parametrize(
    "arguments",
    [["--preferred", "8,lots"], ["--runtime", "tensorrt"], ["--classifier", "spam"]],
)
def test_cli_refuses_bad_options(tmp_path: Path, arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["export", "triton", "--out", str(tmp_path), *arguments])

    assert result.exit_code == 2
