"""``modgate triton serve``: a Triton Inference Server on this machine, serving the shipped
models (or any repository), for trying the ``triton://`` backend without a container.

By default it exports the shipped text, spam and nsfw artifacts as a python-runtime
repository into ``<state-dir>/triton-repo`` (the pytriton binary has no onnxruntime
backend) and runs the server from ``.venv-triton`` (``make triton-setup``) in the
foreground; it prints the ``MODGATE_CLASSIFIERS`` value that points a gateway at it.
Production runs NVIDIA's container on the ``triton_repo/`` that ``modgate export triton``
writes.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from modgate.embedded import EmbeddedServerError
from modgate.embedded_triton import LocalTriton, TritonInstall

triton_app = typer.Typer(
    help="Run a local Triton Inference Server for triton:// classifiers.", no_args_is_help=True
)


@triton_app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="gRPC port (classifier URLs use it).")] = 8001,
    repo: Annotated[
        Path | None,
        typer.Option(help="Model repository to serve (default: export the shipped models)."),
    ] = None,
    state_dir: Annotated[Path, typer.Option(help="Where the exported repository goes.")] = Path(
        ".modgate"
    ),
    venv: Annotated[
        Path | None, typer.Option(help="The pytriton venv (default: .venv-triton).")
    ] = None,
) -> None:
    """Serve a model repository on 127.0.0.1 until Ctrl-C."""
    try:
        install = TritonInstall.find(venv)
        if repo is None:
            repo = _export_shipped(state_dir / "triton-repo", install)
        server = LocalTriton(install, repo.absolute(), port=port).start(timeout_s=120.0)
    except EmbeddedServerError as exc:
        typer.echo(f"modgate triton serve: {exc}", err=True)
        raise typer.Exit(2) from None
    models = sorted(p.name for p in repo.iterdir() if (p / "config.pbtxt").is_file())
    urls = {name: server.url(name) for name in models}
    typer.echo(f"Triton serving {repo} on {server.address} (log: {server.log_path})")
    typer.echo(f"MODGATE_CLASSIFIERS='{json.dumps(urls)}'")
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            if not server.running:
                typer.echo(f"tritonserver exited:\n{server.log_tail()}", err=True)
                raise typer.Exit(1)
    finally:
        server.stop()


def _export_shipped(out: Path, install: TritonInstall) -> Path:
    from export.triton_repo import export_python_repo

    if out.exists():
        shutil.rmtree(out)
    export_python_repo(out, [str(install.site_packages)])
    return out
