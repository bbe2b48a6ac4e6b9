"""Triton python-backend model that runs a modgate ONNX model with onnxruntime.

``modgate export triton --runtime python`` copies this file as ``<model>/<version>/model.py``
beside ``model.onnx``. It exists for Triton servers built without the ONNX Runtime backend
(pytriton's ``tritonserver`` in CI, for one): the same ONNX file, tensors and dynamic batcher
as the production ``onnxruntime_onnx`` config, run by onnxruntime inside the python backend's
stub. The stub's interpreter may not see modgate's virtualenv, so the directories of the
``site_packages`` parameter go on ``sys.path`` before numpy and onnxruntime are imported.
Requests the batcher hands over together run as one ``session.run`` per input shape. It needs
numpy, onnxruntime and the standard library only; ``triton_python_backend_utils`` exists only
inside Triton, so it is imported where it is used and the batching helpers work without it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL_FILE = "model.onnx"


def batch_groups(shapes: Sequence[Mapping[str, tuple[int, ...]]]) -> list[list[int]]:
    """Indices of the requests whose inputs (full shapes by name, batch dim first) agree after
    the batch dim, in order of first appearance: each group concatenates along axis 0."""
    groups: dict[tuple[tuple[str, tuple[int, ...]], ...], list[int]] = {}
    for index, request in enumerate(shapes):
        key = tuple((name, tuple(request[name][1:])) for name in sorted(request))
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def run_batched(
    run: Callable[[dict[str, np.ndarray]], Sequence[np.ndarray]],
    requests: Sequence[Mapping[str, np.ndarray]],
) -> list[list[np.ndarray] | Exception]:
    """``run`` once per group of same-shaped requests on their inputs concatenated, outputs
    split back per request; a group whose run fails gets its exception for every request."""
    import numpy as np

    results: list[list[np.ndarray] | Exception] = [[] for _ in requests]
    for group in batch_groups([{n: a.shape for n, a in r.items()} for r in requests]):
        sizes = [len(next(iter(requests[i].values()))) for i in group]
        first = requests[group[0]]  # a lone request runs as it is, without a copy
        feeds = {
            name: np.concatenate([requests[i][name] for i in group]) if len(group) > 1 else array
            for name, array in first.items()
        }
        try:
            outputs = run(feeds)
            short = [o.shape for o in outputs if len(o) != sum(sizes)]
            if short:
                raise ValueError(f"outputs {short} do not have the batch's {sum(sizes)} rows")
        except Exception as exc:  # the backend boundary: the error goes back as the response
            for i in group:
                results[i] = exc
            continue
        pieces = [np.split(output, np.cumsum(sizes)[:-1]) for output in outputs]
        for position, i in enumerate(group):
            results[i] = [np.ascontiguousarray(piece[position]) for piece in pieces]
    return results


def prepend_site_packages(value: str | None) -> None:
    """Put each ``os.pathsep``-separated directory in ``value`` at the front of ``sys.path``."""
    for directory in reversed([d for d in (value or "").split(os.pathsep) if d]):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)


# The stub's interpreter ignores PYTHONPATH, and imports numpy (for its utils) after this
# module but before ``initialize``: apply PYTHONPATH here, at import, or the base
# interpreter's numpy wins (a numpy 2 there makes the backend return empty tensors).
prepend_site_packages(os.environ.get("PYTHONPATH"))


def _check_numpy_source(site_packages: str | None) -> None:
    """Fail loudly if numpy was already imported from outside ``site_packages``."""
    numpy = sys.modules.get("numpy")
    dirs = [d for d in (site_packages or "").split(os.pathsep) if d]
    where = str(getattr(numpy, "__file__", ""))
    if numpy is not None and dirs and not any(where.startswith(d) for d in dirs):
        raise RuntimeError(
            f"numpy was imported from {where} before the site_packages parameter could "
            f"apply; start tritonserver with PYTHONPATH={os.pathsep.join(dirs)}"
        )


def _parameter(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get("parameters", {}).get(key, {}).get("string_value")
    return str(value) if value else None


class TritonPythonModel:
    """The python backend's entry points: one ONNX Runtime session per model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        _check_numpy_source(_parameter(config, "site_packages"))
        prepend_site_packages(_parameter(config, "site_packages"))
        import onnxruntime as ort
        import triton_python_backend_utils as pb_utils

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(_parameter(config, "intra_op_threads") or 1)
        options.inter_op_num_threads = 1
        providers: list[Any] = ["CPUExecutionProvider"]
        if (
            args["model_instance_kind"] == "GPU"
            and "CUDAExecutionProvider" in ort.get_available_providers()
        ):
            device_id = int(args["model_instance_device_id"])
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": device_id}))
        path = Path(args["model_repository"]) / args["model_version"] / MODEL_FILE
        self.model = f"{config['name']}/{args['model_version']}"
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.outputs = [
            (tensor["name"], pb_utils.triton_string_to_numpy(tensor["data_type"]))
            for tensor in config["output"]
        ]

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        inputs = [
            {
                name: pb_utils.get_input_tensor_by_name(r, name).as_numpy()
                for name in self.input_names
            }
            for r in requests
        ]
        names = [name for name, _ in self.outputs]
        responses = []
        for result in run_batched(lambda feeds: self.session.run(names, feeds), inputs):
            if isinstance(result, Exception):
                message = f"{self.model}: {result}"
                if hasattr(pb_utils, "Logger"):  # Triton >= 23.04 logs into the server's log
                    pb_utils.Logger.log_error(message)
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(message)))
                continue
            # astype copies: a Tensor made from a view of a larger array (a split batch)
            # reaches the client empty.
            tensors = [
                pb_utils.Tensor(name, array.astype(dtype))
                for (name, dtype), array in zip(self.outputs, result, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self) -> None:
        self.session = None
