"""An embedded Triton Inference Server on 127.0.0.1, for one-machine runs, tests and benches.

Production runs NVIDIA's Triton container on ``triton_repo/`` as ``modgate export triton``
writes it (the native ``onnxruntime_onnx`` platform). Where no container is at hand, the
``nvidia-pytriton==0.7.0`` wheel ships a real Triton 2.51 server binary with the python
backend only. ``make triton-setup`` installs it into a virtualenv of its own
(``.venv-triton``: the wheel pins numpy < 2) with the onnxruntime and tokenizers versions
modgate uses, and a repository exported with ``--runtime python`` runs the same ONNX files
there through onnxruntime.

The binary has three quirks, handled here: the python backend needs the stub built for the
venv's Python in its backend directory (copied there once); that stub links against
``libpython``, whose directory must be on ``LD_LIBRARY_PATH``; and its interpreter imports
numpy before any ``model.py`` runs, so the venv's site-packages go on ``PYTHONPATH`` (else a
numpy 2 from the base interpreter is loaded, and the backend, built for numpy 1, returns
empty tensors). Readiness is Triton's own
``/v2/health/ready`` (every model loaded), asked over HTTP with the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from modgate.embedded import EmbeddedServerError, _Process, free_port
from modgate.settings import SOURCE_ROOT

DEFAULT_TRITON_VENV = SOURCE_ROOT / ".venv-triton"
_STUB = "triton_python_backend_stub"
_PATHS = (
    "import sysconfig, sys; print(sysconfig.get_paths()['purelib']); "
    "print(sysconfig.get_config_var('LIBDIR')); print('%d.%d' % sys.version_info[:2])"
)


@dataclass(frozen=True, slots=True)
class TritonInstall:
    """Where the pytriton venv keeps the server binary, its backends and its packages."""

    venv: Path
    binary: Path
    backends: Path
    site_packages: Path  # what a python-backend model.py puts on sys.path
    lib_dir: str  # libpython's directory, for the python backend stub

    @classmethod
    def find(cls, venv: Path | None = None) -> TritonInstall:
        """The install in ``venv`` (default ``.venv-triton``) with its stub in place."""
        venv = (venv or DEFAULT_TRITON_VENV).absolute()
        python = venv / "bin" / "python"
        if not python.is_file():
            raise EmbeddedServerError(f"no Triton venv at {venv}: run `make triton-setup`")
        lines = subprocess.run(
            [str(python), "-c", _PATHS], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        site_packages, lib_dir, py_version = Path(lines[0]), lines[1], lines[2]
        server = site_packages / "pytriton" / "tritonserver"
        binary = server / "bin" / "tritonserver"
        if not binary.is_file():
            raise EmbeddedServerError(f"{venv} has no pytriton server: run `make triton-setup`")
        stub = server / "backends" / "python" / _STUB
        if not stub.is_file():
            source = server / "python_backend_stubs" / py_version / _STUB
            if not source.is_file():
                raise EmbeddedServerError(f"pytriton ships no python-backend stub for {py_version}")
            shutil.copy2(source, stub)
        return cls(venv, binary, server / "backends", site_packages, lib_dir)


class LocalTriton(_Process):
    """``tritonserver`` serving ``repo`` on 127.0.0.1; ``stop()``/``start()`` keep the ports.

    ``port`` is the gRPC port classifiers use (``url(model)``); HTTP serves readiness."""

    name = "tritonserver"

    def __init__(
        self,
        install: TritonInstall,
        repo: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        model_config_name: str = "",
    ) -> None:
        super().__init__(port)
        self.install = install
        self.repo = repo
        self.http_port = free_port(self.host)
        self.metrics_port = free_port(self.host)
        self.log_path = log_path or repo.with_name(repo.name + ".tritonserver.log")
        self.model_config_name = model_config_name

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, model: str, **options: str) -> str:
        """The ``triton://`` classifier URL of ``model`` on this server."""
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"triton://{self.address}/{model}" + (f"?{query}" if query else "")

    def command(self) -> list[str]:
        args = [
            str(self.install.binary),
            f"--model-repository={self.repo}",
            f"--backend-directory={self.install.backends}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.port}",
            f"--http-address={self.host}",
            f"--http-port={self.http_port}",
            f"--metrics-port={self.metrics_port}",
            "--exit-timeout-secs=5",
        ]
        if self.model_config_name:
            args.append(f"--model-config-name={self.model_config_name}")
        return args

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for key, first in (
            ("LD_LIBRARY_PATH", self.install.lib_dir),
            ("PYTHONPATH", str(self.install.site_packages)),
        ):
            env[key] = os.pathsep.join(p for p in (first, env.get(key, "")) if p)
        return env

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        ready = f"http://{self.host}:{self.http_port}/v2/health/ready"
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            if proc.poll() is not None:
                raise EmbeddedServerError(f"tritonserver exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(ready, timeout=1.0) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise EmbeddedServerError(f"tritonserver not ready after {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 25) -> str:
        """The end of the server's log (start-up failures name the model and the cause)."""
        try:
            text = (
                self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path else ""
            )
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
