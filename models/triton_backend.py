"""Triton Inference Server backend: a ``ModelSession`` over ``tritonclient.grpc.aio``.

A ``triton://host:8001/text`` classifier keeps its pre- and post-processing in the gateway
(tokenizer, spam features, image preprocessing, output checks: the very code the in-process
backend runs) and sends only the model call to Triton, whose dynamic batcher merges
concurrent callers. So ``TritonSession`` is a drop-in for ``OnnxSession``:

* **one long-lived channel** per model and event loop, with a short reconnect backoff so a
  returning server is seen within about ``reconnect_max_backoff_ms``;
* **per-call timeout from the remaining deadline**, sent as the gRPC deadline;
* **version pinning** (``?version=2``), and at boot a readiness wait plus a check that the
  served version is the one the local artifact describes (the ``modgate_version.<N>``
  parameter ``modgate export triton`` writes into ``config.pbtxt``);
* **clear errors**: unreachable or not ready → ``ModelUnavailableError``, past the budget →
  ``ModelTimeoutError``, tensors the model refuses (checked locally against the model's
  metadata first) → ``ModelInputError``;
* **fail fast while down**: after the server was unreachable, calls fail at once for
  ``retry_after_s`` (the post is scored without the model, not held to its deadline);
  ``probe()`` and the next call after that window find out whether it is back.

No client-side batching: a call sends what it carries (split only where it exceeds the
model's ``max_batch_size``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype, triton_to_np_dtype

from models.errors import (
    ArtifactError,
    ModelError,
    ModelInputError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from models.interface import Feeds, SessionOpener
from modgate.settings import ClassifierUrl, TritonSettings

log = logging.getLogger(__name__)

VERSION_PARAMETER = "modgate_version.{}"
SYNC_TIMEOUT_S = 30.0  # run_sync (batch jobs, OCR workers) has no caller deadline
_PROBE_TIMEOUT_S = 1.0
_Request = list[grpcclient.InferInput]  # the aio client uses the same class


def channel_args(settings: TritonSettings) -> list[tuple[str, Any]]:
    """gRPC channel options: large messages (image batches) and a short reconnect backoff."""
    return [
        ("grpc.max_send_message_length", 2**31 - 1),
        ("grpc.max_receive_message_length", 2**31 - 1),
        ("grpc.initial_reconnect_backoff_ms", min(100, settings.reconnect_max_backoff_ms)),
        ("grpc.min_reconnect_backoff_ms", min(100, settings.reconnect_max_backoff_ms)),
        ("grpc.max_reconnect_backoff_ms", settings.reconnect_max_backoff_ms),
    ]


class TritonSession:
    """One Triton model as a ``ModelSession``. Safe to call concurrently (and from threads
    via ``run_sync``)."""

    def __init__(
        self, url: ClassifierUrl, *, name: str, version: str, settings: TritonSettings
    ) -> None:
        self.name = name
        self.version = version
        self.address = url.location
        self.model = url.model
        self.pinned = url.options.get("version", "")
        self._settings = settings
        self._lock = threading.Lock()
        self._down_reason = ""  # empty: believed up
        self._retry_at = 0.0
        self._closed = False
        self._sync = grpcclient.InferenceServerClient(
            self.address, channel_args=channel_args(settings)
        )
        try:
            self._wait_ready(settings.startup_wait_s)
            metadata = self._sync.get_model_metadata(self.model, self.pinned)
            config = self._sync.get_model_config(self.model, self.pinned).config
        except InferenceServerException as exc:
            self._sync.close()
            raise self._error(exc) from None
        except ModelError:
            self._sync.close()
            raise
        self.served_version = self.pinned or str(max(int(v) for v in metadata.versions))
        self.max_batch_size = int(config.max_batch_size)
        self.input_names = tuple(t.name for t in metadata.inputs)
        self.output_names = tuple(t.name for t in metadata.outputs)
        self._dtypes = {t.name: np.dtype(triton_to_np_dtype(t.datatype)) for t in metadata.inputs}
        self._shapes = {t.name: tuple(int(d) for d in t.shape) for t in metadata.inputs}
        self._check_served_version(config)
        self._prepare = ThreadPoolExecutor(settings.prepare_workers, f"triton-{name}")
        self._clients: dict[asyncio.AbstractEventLoop, aioclient.InferenceServerClient] = {}
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    # -- boot ------------------------------------------------------------------------------

    def _wait_ready(self, wait_s: float) -> None:
        give_up = time.monotonic() + wait_s
        last = "no answer"
        while True:
            try:
                if self._sync.is_model_ready(self.model, self.pinned, client_timeout=1.0):
                    return
                last = "server is up but the model is not ready"
            except InferenceServerException as exc:
                last = exc.message() or str(exc.status())
            if time.monotonic() >= give_up:
                raise ModelUnavailableError(
                    self.name,
                    self.version,
                    f"Triton at {self.address}: model {self._label()} not ready after "
                    f"{wait_s:.0f} s ({last}); check the server and MODGATE_TRITON__STARTUP_WAIT_S",
                )
            time.sleep(0.25)

    def _check_served_version(self, config: Any) -> None:
        parameter = config.parameters.get(VERSION_PARAMETER.format(self.served_version))
        served = parameter.string_value if parameter is not None else ""
        if not served:
            log.warning(
                "model %s: Triton's config for %s has no %s parameter; cannot check it "
                "matches local artifact %s (export with `modgate export triton`)",
                self.name,
                self._label(),
                VERSION_PARAMETER.format(self.served_version),
                self.version,
            )
        elif served != self.version:
            raise ArtifactError(
                self.name,
                self.version,
                f"Triton at {self.address} serves {self.model} version {self.served_version} "
                f"as {served!r}, but the local artifact (tokenizer / preprocessing) is "
                f"{self.version!r}: pin the matching ?version= or point ?artifact= at it",
            )

    def _label(self) -> str:
        return f"{self.model!r}" + (f" version {self.pinned}" if self.pinned else "")

    # -- calls -----------------------------------------------------------------------------

    def _requests(self, feeds: Feeds | Callable[[], Feeds]) -> list[_Request]:
        """Check ``feeds`` against the model's metadata and serialize them (worker thread)."""
        feeds = feeds() if callable(feeds) else feeds
        if set(feeds) != set(self.input_names):
            raise self._refused(f"inputs {sorted(feeds)}, model takes {list(self.input_names)}")
        rows = {int(np.shape(a)[0]) if np.ndim(a) else -1 for a in feeds.values()}
        if len(rows) != 1 or -1 in rows:
            raise self._refused(f"inputs disagree on the batch size: {sorted(rows)}")
        n = rows.pop()
        for name, array in feeds.items():
            self._check_tensor(name, np.asarray(array))
        step = self.max_batch_size if self.max_batch_size > 0 else max(n, 1)
        requests = []
        for start in range(0, max(n, 1), step):
            request = []
            for name in self.input_names:
                chunk = np.ascontiguousarray(feeds[name][start : start + step])
                tensor = grpcclient.InferInput(
                    name, list(chunk.shape), np_to_triton_dtype(chunk.dtype)
                )
                tensor.set_data_from_numpy(chunk)
                request.append(tensor)
            requests.append(request)
        return requests

    def _check_tensor(self, name: str, array: np.ndarray) -> None:
        expected = self._shapes[name]
        if array.dtype != self._dtypes[name]:
            raise self._refused(f"{name} is {array.dtype}, model takes {self._dtypes[name]}")
        static = all(e in (-1, a) for e, a in zip(expected, array.shape, strict=False))
        if array.ndim != len(expected) or not static:
            raise self._refused(
                f"{name} has shape {list(array.shape)}, model takes {list(expected)}"
            )

    def _refused(self, message: str) -> ModelInputError:
        return ModelInputError(self.name, self.version, message)

    async def run(
        self, feeds: Feeds | Callable[[], Feeds], *, timeout_s: float
    ) -> list[np.ndarray]:
        """Prepare ``feeds`` off the loop, send them, return the outputs within ``timeout_s``."""
        if self._closed:
            raise ModelUnavailableError(self.name, self.version, "session is closed")
        if timeout_s <= 0:
            raise ModelTimeoutError(self.name, self.version, "no time budget left")
        self._fail_fast()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        client, slots = self._client(loop)
        try:
            await asyncio.wait_for(slots.acquire(), timeout_s)
        except TimeoutError:
            raise ModelTimeoutError(self.name, self.version, "no request slot in time") from None
        try:
            prepared = loop.run_in_executor(self._prepare, self._requests, feeds)
            requests = await asyncio.wait_for(prepared, max(deadline - loop.time(), 0.0))
            parts = await asyncio.gather(*(self._infer(client, r, deadline) for r in requests))
        except TimeoutError:
            raise ModelTimeoutError(
                self.name, self.version, f"no answer within {timeout_s * 1000:.1f} ms"
            ) from None
        finally:
            slots.release()
        self._mark_up()
        return _joined(parts)

    async def _infer(
        self, client: aioclient.InferenceServerClient, inputs: _Request, deadline: float
    ) -> list[np.ndarray]:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        try:
            result = await client.infer(
                self.model,
                inputs,
                model_version=self.pinned,
                outputs=[grpcclient.InferRequestedOutput(n) for n in self.output_names],
                client_timeout=remaining,
            )
        except InferenceServerException as exc:
            raise self._error(exc) from None
        return [result.as_numpy(n) for n in self.output_names]

    def run_sync(self, feeds: Feeds) -> list[np.ndarray]:
        """Send ``feeds`` from the calling thread (OCR workers, batch jobs)."""
        self._fail_fast()
        parts = []
        for request in self._requests(feeds):
            try:
                result = self._sync.infer(
                    self.model,
                    request,
                    model_version=self.pinned,
                    outputs=[grpcclient.InferRequestedOutput(n) for n in self.output_names],
                    client_timeout=SYNC_TIMEOUT_S,
                )
            except InferenceServerException as exc:
                raise self._error(exc) from None
            parts.append([result.as_numpy(n) for n in self.output_names])
        self._mark_up()
        return _joined(parts)

    def _client(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[aioclient.InferenceServerClient, asyncio.Semaphore]:
        client = self._clients.get(loop)
        if client is None:
            client = aioclient.InferenceServerClient(
                self.address, channel_args=channel_args(self._settings)
            )
            self._clients[loop] = client
            self._slots[loop] = asyncio.Semaphore(self._settings.max_in_flight)
        return client, self._slots[loop]

    # -- failures and readiness -------------------------------------------------------------

    def _error(self, exc: InferenceServerException) -> ModelError:
        status = str(exc.status() or "")
        detail = exc.message() or status
        if "DEADLINE_EXCEEDED" in status or "timeout expired" in detail.lower():
            # the gRPC deadline, or Triton's queue rejecting a request past its timeout
            return ModelTimeoutError(self.name, self.version, f"Triton: {detail}")
        if "INVALID_ARGUMENT" in status:
            return ModelInputError(self.name, self.version, f"Triton refused the tensors: {detail}")
        reason = f"Triton at {self.address} ({self.model}): {detail}"
        self._mark_down(reason)
        return ModelUnavailableError(self.name, self.version, reason)

    def _fail_fast(self) -> None:
        with self._lock:
            if not self._down_reason or time.monotonic() >= self._retry_at:
                return
            reason = self._down_reason
        raise ModelUnavailableError(self.name, self.version, f"{reason} (retrying shortly)")

    def _mark_down(self, reason: str) -> None:
        with self._lock:
            if not self._down_reason:
                log.warning("model %s: %s; failing fast while it is down", self.name, reason)
            self._down_reason = reason
            self._retry_at = time.monotonic() + self._settings.retry_after_s

    def _mark_up(self) -> None:
        if not self._down_reason:
            return
        with self._lock:
            if self._down_reason:
                log.info("model %s: Triton at %s answers again", self.name, self.address)
            self._down_reason = ""

    async def probe(self) -> str | None:
        """``None`` if Triton says the model is ready, else why not; updates fail-fast."""
        if self._closed:
            return "session is closed"
        client, _ = self._client(asyncio.get_running_loop())
        try:
            ready = await client.is_model_ready(
                self.model, self.pinned, client_timeout=_PROBE_TIMEOUT_S
            )
        except InferenceServerException as exc:
            reason = f"Triton at {self.address} unreachable: {exc.message() or exc.status()}"
            self._mark_down(reason)
            return reason
        if not ready:
            reason = f"Triton at {self.address}: model {self._label()} is not ready"
            self._mark_down(reason)
            return reason
        self._mark_up()
        return None

    def close(self) -> None:
        self._closed = True
        self._prepare.shutdown(wait=False, cancel_futures=True)
        self._sync.close()

    async def aclose(self) -> None:
        self.close()
        clients, self._clients = self._clients, {}
        loop = asyncio.get_running_loop()
        for owner, client in clients.items():
            if owner is loop:
                await client.close()


def _joined(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The outputs of a call split into several requests, joined back in order."""
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def triton_session_opener(url: ClassifierUrl, settings: TritonSettings) -> SessionOpener:
    """Open ``TritonSession``s for ``url``; the weights path is unused (Triton has them)."""

    def open_session(_weights: Path, name: str, version: str) -> TritonSession:
        return TritonSession(url, name=name, version=version, settings=settings)

    return open_session
