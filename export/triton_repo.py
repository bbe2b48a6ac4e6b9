"""A Triton Inference Server model repository from modgate's ONNX artifacts.

``modgate export triton`` turns each classifier artifact (``metadata.json`` plus an ONNX file)
into one Triton model: a ``config.pbtxt`` declaring its tensors, dynamic batching, instance
group and version policy, and a version directory holding the weights. The tensors come from
the metadata and are checked against the ONNX graph itself, never assumed. Production runs
Triton's native ONNX Runtime backend; the ``python`` runtime runs the same ONNX file through
onnxruntime in Triton's python backend (``export/triton_python_model.py``) for servers built
without that backend, such as pytriton's in CI. Tokenization and image preprocessing stay in
the gateway: Triton only sees tensors. Configs render deterministically (no timestamps, no
machine paths), so the committed ``triton_repo/`` can be compared with a fresh export.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import onnxruntime as ort
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from export.errors import ExportError
from models.artifact import METADATA_FILE, metadata_checker, read_metadata
from models.errors import ArtifactError
from models.image import check_image_metadata
from modgate.settings import ARTIFACTS_DIR, SOURCE_ROOT

CONFIG_FILE = "config.pbtxt"
CPU_CONFIG_FILE = "configs/cpu.pbtxt"
CPU_ALTERNATIVE = "CPU alternative: tritonserver --model-config-name=cpu"
MODEL_FILE = "model.onnx"
PYTHON_MODEL_FILE = "model.py"
PYTHON_MODEL_TEMPLATE = Path(__file__).with_name("triton_python_model.py")
VERSION_PARAMETER = "modgate_version."
MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
TENSORRT_PARAMETERS = {"precision_mode": "FP16", "max_workspace_size_bytes": str(1 << 30)}
# ONNX Runtime's element types -> Triton's DataType enum names.
ORT_TYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "tensor(double)": "TYPE_FP64",
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}

ModelConfig = mc.ModelConfig
_Graph = dict[str, tuple[str, list[Any]]]  # tensor name -> (ONNX type, shape)
_Meta = dict[str, Any]


class TritonDevice(StrEnum):
    """Where the model's instances run (the instance group kind of ``config.pbtxt``)."""

    GPU = "gpu"
    CPU = "cpu"


class TritonRuntime(StrEnum):
    """Which Triton backend runs the ONNX file."""

    ONNXRUNTIME = "onnxruntime"  # Triton's native onnxruntime_onnx platform (production)
    PYTHON = "python"  # the python backend running onnxruntime (servers without the ORT backend)


@dataclass(frozen=True)
class BatchingOptions:
    """Dynamic batching, instances and how many versions Triton keeps loaded."""

    max_batch_size: int = 64
    preferred_batch_sizes: tuple[int, ...] = (8, 16, 32, 64)
    max_queue_delay_us: int = 500
    instances: int = 1
    keep_versions: int = 2

    def __post_init__(self) -> None:
        for key in ("max_batch_size", "instances", "keep_versions"):
            if getattr(self, key) < 1:
                raise ExportError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.max_queue_delay_us < 0:
            raise ExportError(f"max_queue_delay_us must be >= 0, got {self.max_queue_delay_us}")
        bad = [size for size in self.preferred_batch_sizes if not 1 <= size <= self.max_batch_size]
        if bad:
            raise ExportError(
                f"preferred batch sizes {bad} must lie between 1 and max_batch_size "
                f"{self.max_batch_size}"
            )


DEFAULT_BATCHING = BatchingOptions()


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as Triton declares it; ``dims`` leave out the batch dim."""

    name: str
    data_type: str  # Triton DataType enum name, e.g. "TYPE_FP32"
    dims: tuple[int, ...]  # -1 = variable


@dataclass(frozen=True)
class ModelSpec:
    """What one classifier artifact becomes in Triton, checked against its ONNX graph."""

    name: str
    kind: str
    modgate_version: str
    weights: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TritonExportReport:
    """What ``export_triton_repo`` wrote; ``files`` are relative to ``out``."""

    out: Path
    runtime: TritonRuntime
    device: TritonDevice
    version: int
    models: tuple[ModelSpec, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...]


def default_classifiers() -> dict[str, Path]:
    """The shipped classifiers by Triton model name."""
    return {name: ARTIFACTS_DIR / name for name in ("text", "spam", "nsfw")}


def model_spec(name: str, artifact_dir: Path, *, device: TritonDevice) -> ModelSpec:
    """The Triton view of the artifact in ``artifact_dir``; ExportError if it is wrong."""
    if not (artifact_dir / METADATA_FILE).is_file():
        raise ExportError(f"{name}: no {METADATA_FILE} in {artifact_dir} (not a model artifact)")
    try:
        metadata = read_metadata(artifact_dir / METADATA_FILE, name=name)
        builder = _BUILDERS.get(str(metadata.get("kind")))
        if builder is None:
            raise ExportError(
                f"{name}: {artifact_dir / METADATA_FILE} has kind {metadata.get('kind')!r}; "
                f"Triton export knows {sorted(_BUILDERS)}"
            )
        spec = builder(name, artifact_dir, metadata, TritonDevice(device))
    except ArtifactError as exc:
        raise ExportError(str(exc)) from exc
    verify_spec(spec)
    return spec


def _text_spec(name: str, artifact_dir: Path, meta: _Meta, device: TritonDevice) -> ModelSpec:
    required = ("version", "categories")
    fail = metadata_checker(meta, artifact_dir, name=name, kind="text", required=required)
    categories = meta["categories"]
    if not isinstance(categories, list) or not categories:
        raise fail("categories must be a non-empty list")
    weights, notes = artifact_dir / MODEL_FILE, []
    fp32 = artifact_dir / "model.fp32.onnx"
    if device is TritonDevice.GPU and fp32.is_file():
        weights = fp32
        notes.append("serves model.fp32.onnx; on CPU-only hosts --device cpu serves the int8 one")
    elif device is TritonDevice.GPU:
        notes.append(
            "no model.fp32.onnx, so the GPU serves the int8 model.onnx, a CPU "
            "optimisation (CUDA and TensorRT want float weights); re-export the text model"
        )
    if not weights.is_file():
        raise fail(f"no {weights.name}")
    input_names = meta.get("inputs", ["input_ids", "attention_mask"])
    output = TensorSpec(str(meta.get("output", "probabilities")), "TYPE_FP32", (len(categories),))
    inputs = tuple(TensorSpec(str(n), "TYPE_INT64", (-1,)) for n in input_names)
    return ModelSpec(name, "text", str(meta["version"]), weights, inputs, (output,), tuple(notes))


def _spam_spec(name: str, artifact_dir: Path, meta: _Meta, device: TritonDevice) -> ModelSpec:
    required = ("version", "input_name", "probabilities_output", "n_features")
    fail = metadata_checker(meta, artifact_dir, name=name, kind="spam", required=required)
    if not isinstance(meta["n_features"], int) or meta["n_features"] < 1:
        raise fail(f"n_features must be a positive integer, got {meta['n_features']!r}")
    weights = artifact_dir / MODEL_FILE
    if not weights.is_file():
        raise fail(f"no {MODEL_FILE}")
    # The int64 ``label`` output is not exposed: Triton would need its dims and nobody reads it.
    inputs = (TensorSpec(str(meta["input_name"]), "TYPE_FP32", (meta["n_features"],)),)
    outputs = (TensorSpec(str(meta["probabilities_output"]), "TYPE_FP32", (2,)),)
    return ModelSpec(name, "spam", str(meta["version"]), weights, inputs, outputs)


def _image_spec(name: str, artifact_dir: Path, meta: _Meta, device: TritonDevice) -> ModelSpec:
    artifact = check_image_metadata(meta, artifact_dir, name=name)
    graph, _ = _onnx_graph(name, artifact.model_path)
    shape = graph.get(artifact.input_name, ("", []))[1]  # a missing input fails verify_spec
    dims = tuple(d if isinstance(d, int) else -1 for d in shape[1:])
    inputs = (TensorSpec(artifact.input_name, "TYPE_FP32", dims),)
    outputs = (TensorSpec(artifact.output_name, "TYPE_FP32", (len(artifact.labels),)),)
    return ModelSpec(name, "image", artifact.version, artifact.model_path, inputs, outputs)


_BUILDERS = {"text": _text_spec, "spam": _spam_spec, "image": _image_spec}


def _onnx_graph(name: str, weights: Path) -> tuple[_Graph, _Graph]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own errors derive from Exception only
        raise ExportError(f"{name}: ONNX Runtime cannot load {weights}: {exc}") from exc

    def table(args: Sequence[Any]) -> _Graph:
        return {arg.name: (arg.type, list(arg.shape)) for arg in args}

    return table(session.get_inputs()), table(session.get_outputs())


def verify_spec(spec: ModelSpec) -> None:
    """ExportError unless every tensor of ``spec`` is in its ONNX graph with the same element
    type and static dims, behind a dynamic batch dim, and every graph input is declared."""
    inputs, outputs = _onnx_graph(spec.name, spec.weights)
    for role, tensors, graph in (("input", spec.inputs, inputs), ("output", spec.outputs, outputs)):
        for tensor in tensors:
            _verify_tensor(spec, role, tensor, graph)
    undeclared = sorted(set(inputs) - {t.name for t in spec.inputs})
    if undeclared:
        raise ExportError(f"{spec.name}: {spec.weights} needs inputs {undeclared} not declared")


def _verify_tensor(spec: ModelSpec, role: str, tensor: TensorSpec, graph: _Graph) -> None:
    where = f"{spec.name}: {role} {tensor.name!r}"
    if tensor.name not in graph:
        raise ExportError(f"{where} is not in {spec.weights} (its {role}s: {sorted(graph)})")
    onnx_type, shape = graph[tensor.name]
    if ORT_TYPES.get(onnx_type) != tensor.data_type:
        raise ExportError(f"{where} is {tensor.data_type} in the config but {onnx_type} in ONNX")
    if not shape or isinstance(shape[0], int):
        raise ExportError(f"{where}: ONNX shape {shape} has no dynamic batch dim to batch on")
    rest = shape[1:]
    if len(rest) != len(tensor.dims) or any(
        isinstance(o, int) and o != d for o, d in zip(rest, tensor.dims, strict=True)
    ):
        raise ExportError(
            f"{where} has dims {list(tensor.dims)} in the config but {rest} after the batch "
            f"dim in {spec.weights.name}"
        )


def build_config(
    spec: ModelSpec,
    *,
    runtime: TritonRuntime,
    device: TritonDevice,
    batching: BatchingOptions,
    versions: Mapping[int, str],
    tensorrt: bool = False,
    site_packages: Sequence[str] = (),
) -> Any:
    """The ``ModelConfig`` message of one model; ``versions`` maps Triton version -> modgate's."""
    config = ModelConfig(name=spec.name, max_batch_size=batching.max_batch_size)
    if runtime is TritonRuntime.PYTHON:
        config.backend = "python"
    else:
        config.platform = "onnxruntime_onnx"
    for field, tensors in ((config.input, spec.inputs), (config.output, spec.outputs)):
        for t in tensors:
            field.add(name=t.name, data_type=mc.DataType.Value(t.data_type), dims=list(t.dims))
    config.version_policy.latest.num_versions = batching.keep_versions
    config.dynamic_batching.SetInParent()
    config.dynamic_batching.preferred_batch_size.extend(batching.preferred_batch_sizes)
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_us
    # No default_queue_policy: with per-request timeouts allowed (allow_timeout_override),
    # Triton 2.51 held about 1 request in 300 for ~500 ms in the queue (1,200 sequential
    # text calls: 3-4 stalls with the policy, none without; docs/triton.md).
    kind = "KIND_GPU" if device is TritonDevice.GPU else "KIND_CPU"
    config.instance_group.add(count=batching.instances, kind=mc.ModelInstanceGroup.Kind.Value(kind))
    if tensorrt:
        accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
        accelerators.add(name="tensorrt").parameters.update(TENSORRT_PARAMETERS)
    for key, value in _parameters(spec, runtime, device, versions, site_packages).items():
        config.parameters[key].string_value = value
    return config


def _parameters(
    spec: ModelSpec,
    runtime: TritonRuntime,
    device: TritonDevice,
    versions: Mapping[int, str],
    site_packages: Sequence[str],
) -> dict[str, str]:
    """modgate's own parameters plus the backend's thread settings (the ONNX Runtime backend's
    names: ``intra_op_thread_count``; model.py's: ``intra_op_threads``, ``site_packages``)."""
    parameters = {"modgate_kind": spec.kind}
    parameters |= {f"{VERSION_PARAMETER}{n}": v for n, v in versions.items()}
    if runtime is TritonRuntime.PYTHON:
        parameters["intra_op_threads"] = "1"
        if site_packages:
            parameters["site_packages"] = os.pathsep.join(site_packages)
    elif device is TritonDevice.CPU:
        parameters |= {"intra_op_thread_count": "1", "inter_op_thread_count": "1"}
    return parameters


def render_config(config: Any, source: Path, *, alternative: str = "") -> str:
    """``config`` as pbtxt behind a header saying where it came from."""
    header = (
        f"# Written by `modgate export triton` from {_display(source)}; "
        "re-run it instead of editing by hand.\n"
    )
    if alternative:
        header += f"# {alternative}\n"
    return header + text_format.MessageToString(config)


def read_config(path: Path) -> Any:
    """Parse a ``config.pbtxt`` into a ``ModelConfig``; ExportError naming the file if bad."""
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), ModelConfig())
    except (OSError, text_format.ParseError) as exc:
        raise ExportError(f"cannot read Triton config {path}: {exc}") from exc


def export_triton_repo(
    out: Path,
    classifiers: Mapping[str, Path],
    *,
    runtime: TritonRuntime = TritonRuntime.ONNXRUNTIME,
    device: TritonDevice = TritonDevice.GPU,
    version: int = 1,
    batching: BatchingOptions = DEFAULT_BATCHING,
    tensorrt: bool = False,
    site_packages: Sequence[str] = (),
    configs_only: bool = False,
) -> TritonExportReport:
    """Write (or add ``version`` to) a Triton model repository in ``out``, one model per
    classifier. Every artifact is checked before anything is written."""
    runtime, device = TritonRuntime(runtime), TritonDevice(device)
    _check_options(classifiers, runtime, device, version=version, tensorrt=tensorrt)
    if site_packages and runtime is not TritonRuntime.PYTHON:
        raise ExportError("site_packages is for the python runtime's model.py only")
    specs = [(model_spec(n, Path(d), device=device), Path(d)) for n, d in classifiers.items()]
    files: list[str] = []
    notes = [f"{spec.name}: {note}" for spec, _ in specs for note in spec.notes]
    for spec, artifact_dir in specs:
        versions = {**_kept_versions(out / spec.name, version), version: spec.modgate_version}
        config = partial(
            build_config, spec, runtime=runtime, batching=batching, site_packages=site_packages
        )
        configs = {
            name: config(
                device=d,
                versions=dict(sorted(versions.items())),
                tensorrt=tensorrt and d is TritonDevice.GPU,
            )
            for name, d in _config_files(device).items()
        }
        files += _write_configs(out / spec.name, configs, artifact_dir)
        if not configs_only:
            files += _copy_weights(spec, out / spec.name / str(version), runtime)
    if configs_only:
        notes.append(f"configs only: re-run without --configs-only to copy <model>/{version}/")
    return TritonExportReport(
        out, runtime, device, version, tuple(s for s, _ in specs), tuple(files), tuple(notes)
    )


def export_python_repo(
    out: Path, site_packages: Sequence[str], classifiers: Mapping[str, Path] | None = None
) -> TritonExportReport:
    """The shipped models (or ``classifiers``) for a CPU Triton that has only the python
    backend, e.g. pytriton's server: ``--runtime python --device cpu``."""
    return export_triton_repo(
        out,
        default_classifiers() if classifiers is None else classifiers,
        runtime=TritonRuntime.PYTHON,
        device=TritonDevice.CPU,
        site_packages=site_packages,
    )


def _config_files(device: TritonDevice) -> dict[str, TritonDevice]:
    """A GPU model also gets the CPU alternative that ``--model-config-name=cpu`` selects."""
    cpu = {CPU_CONFIG_FILE: TritonDevice.CPU} if device is TritonDevice.GPU else {}
    return {CONFIG_FILE: device, **cpu}


def _write_configs(model_dir: Path, configs: Mapping[str, Any], artifact_dir: Path) -> list[str]:
    for name, config in configs.items():
        alternative = CPU_ALTERNATIVE if name == CPU_CONFIG_FILE else ""
        text = render_config(config, artifact_dir, alternative=alternative)
        (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (model_dir / name).write_text(text, encoding="utf-8", newline="\n")
    return [f"{model_dir.name}/{name}" for name in configs]


def _check_options(
    classifiers: Mapping[str, Path],
    runtime: TritonRuntime,
    device: TritonDevice,
    *,
    version: int,
    tensorrt: bool,
) -> None:
    if not classifiers:
        raise ExportError("no classifiers to export")
    bad = [name for name in classifiers if not MODEL_NAME.match(name)]
    if bad:
        raise ExportError(f"Triton model names {bad} must match {MODEL_NAME.pattern}")
    if version < 1:
        raise ExportError(f"version must be at least 1 (Triton version directories), got {version}")
    if tensorrt and (runtime, device) != (TritonRuntime.ONNXRUNTIME, TritonDevice.GPU):
        raise ExportError(
            f"TensorRT runs only with runtime onnxruntime on gpu, not {runtime} on {device}"
        )


def _kept_versions(model_dir: Path, version: int) -> dict[int, str]:
    """The other versions' modgate versions in an existing config whose directories remain."""
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        return {}
    kept: dict[int, str] = {}
    for key, value in read_config(path).parameters.items():
        number = key.removeprefix(VERSION_PARAMETER)
        on_disk = number.isdigit() and int(number) != version and (model_dir / number).is_dir()
        if key.startswith(VERSION_PARAMETER) and on_disk:
            kept[int(number)] = value.string_value
    return kept


def _copy_weights(spec: ModelSpec, version_dir: Path, runtime: TritonRuntime) -> list[str]:
    version_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec.weights, version_dir / MODEL_FILE)
    written = [MODEL_FILE]
    if runtime is TritonRuntime.PYTHON:
        shutil.copyfile(PYTHON_MODEL_TEMPLATE, version_dir / PYTHON_MODEL_FILE)
        written.append(PYTHON_MODEL_FILE)
    return [f"{spec.name}/{version_dir.name}/{name}" for name in written]


def _display(path: Path) -> str:
    """``path`` relative to the source tree when inside it (deterministic across machines)."""
    try:
        return path.resolve().relative_to(SOURCE_ROOT).as_posix()
    except ValueError:
        return path.as_posix()
