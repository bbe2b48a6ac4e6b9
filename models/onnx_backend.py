"""In-process ONNX Runtime backend: one session per model, run in a bounded thread pool.

CPU-bound inference never runs on the event loop. ``OnnxSession.run`` hands the call to a
bounded executor, waits at most the caller's budget and, if the budget runs out, tells ONNX
Runtime to abandon the run (``RunOptions.terminate``) so a late call frees its worker.
Input preparation (tokenizing, feature building) can travel with the run as a callable, so
it happens on the same worker in the same hop and never on the event loop.
Admission is bounded too: at most ``max_in_flight`` calls queue per session; a call that
cannot get a slot within its budget times out instead of piling up behind others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.errors import ArtifactError, ModelTimeoutError, ModelUnavailableError
from models.interface import Feeds, SessionOpener
from modgate.settings import ExecutionProvider, OnnxSettings

log = logging.getLogger(__name__)

_ORT_PROVIDERS = {
    ExecutionProvider.CPU: "CPUExecutionProvider",
    ExecutionProvider.CUDA: "CUDAExecutionProvider",
    ExecutionProvider.TENSORRT: "TensorrtExecutionProvider",
}


def resolve_providers(requested: Sequence[ExecutionProvider]) -> list[str]:
    """ORT provider names for ``requested``, in order, always ending with CPU as fallback."""
    names = [_ORT_PROVIDERS[p] for p in requested]
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")
    return names


class OnnxSession:
    """An ONNX Runtime session plus the executor and admission limit that run it."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        version: str,
        providers: Sequence[ExecutionProvider] = (ExecutionProvider.CPU,),
        intra_op_threads: int = 1,
        workers: int = 2,
        max_in_flight: int | None = None,
    ) -> None:
        self.name = name
        self.version = version
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        wanted = resolve_providers(providers)
        try:
            self._session = ort.InferenceSession(str(path), options, providers=wanted)
        except Exception as exc:  # ORT raises its own untyped errors at load
            raise ArtifactError(name, version, f"cannot load ONNX model {path}: {exc}") from exc
        active = self._session.get_providers()
        missing = [p for p in wanted if p not in active]
        if missing:
            log.warning("model %s: providers %s unavailable, running on %s", name, missing, active)
        self.providers: tuple[str, ...] = tuple(active)
        self.input_names = tuple(i.name for i in self._session.get_inputs())
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"ort-{name}"
        )
        self._slots = asyncio.Semaphore(max_in_flight or workers * 8)

    def run_sync(
        self, feeds: Mapping[str, np.ndarray], run_options: ort.RunOptions | None = None
    ) -> list[np.ndarray]:
        """Run the session on the calling thread (batch jobs, parity checks, benchmarks)."""
        outputs: list[np.ndarray] = self._session.run(None, dict(feeds), run_options)
        return outputs

    def _prepare_and_run(
        self, feeds: Feeds | Callable[[], Feeds], run_options: ort.RunOptions
    ) -> list[np.ndarray]:
        return self.run_sync(feeds() if callable(feeds) else feeds, run_options)

    async def run(
        self, feeds: Feeds | Callable[[], Feeds], *, timeout_s: float
    ) -> list[np.ndarray]:
        """Run in the executor within ``timeout_s``; raise ModelTimeoutError past it.

        ``feeds`` may be a callable that builds them: it then runs on the worker too."""
        if self._executor is None:
            raise ModelUnavailableError(self.name, self.version, "session is closed")
        if timeout_s <= 0:
            raise ModelTimeoutError(self.name, self.version, "no time budget left")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout_s)
        except TimeoutError:
            raise ModelTimeoutError(self.name, self.version, "no inference slot in time") from None
        run_options = ort.RunOptions()
        try:
            future = loop.run_in_executor(self._executor, self._prepare_and_run, feeds, run_options)
            return await asyncio.wait_for(future, max(deadline - loop.time(), 0.0))
        except TimeoutError:
            run_options.terminate = True
            raise ModelTimeoutError(
                self.name, self.version, f"no answer within {timeout_s * 1000:.1f} ms"
            ) from None
        except asyncio.CancelledError:
            run_options.terminate = True
            raise
        finally:
            self._slots.release()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def aclose(self) -> None:
        self.close()


def onnx_session_opener(onnx: OnnxSettings) -> SessionOpener:
    """Open in-process ONNX Runtime sessions with ``onnx``'s providers and threads."""

    def open_session(path: Path, name: str, version: str) -> OnnxSession:
        return OnnxSession(
            path,
            name=name,
            version=version,
            providers=onnx.providers,
            intra_op_threads=onnx.intra_op_threads,
            workers=onnx.inference_workers,
        )

    return open_session
