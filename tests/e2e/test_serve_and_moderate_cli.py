"""End to end through the real commands: ``modgate serve`` as a process on a free port, then
``modgate moderate`` as a client process, then SIGTERM and a clean exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODGATE = [sys.executable, "-m", "modgate"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_serving(target: str, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"modgate serve exited early with {proc.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.1)
    raise AssertionError("modgate serve did not become healthy in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "MODGATE_PORT": str(port), "MODGATE_METRICS_PORT": str(_free_port())}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*MODGATE, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_serving(f"127.0.0.1:{port}", proc)
            yield f"127.0.0.1:{port}", proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)


def _moderate(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MODGATE, "moderate", "--target", target, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_then_moderate_prints_verdicts_and_stops_cleanly(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    target, proc = served
    spam = _moderate(
        target,
        "--text",
        "WINNER!! You have been selected for a £1000 prize. Call 09061701939 to claim now",
    )
    assert spam.returncode == 0, spam.stderr
    verdict = json.loads(spam.stdout)
    assert verdict["action"] in ("REMOVE", "DEFER")
    assert verdict["scores"]["spam"] > 0.7

    friendly = _moderate(
        target, "--text", "Happy birthday! Hope you have a lovely day", "--region", "DE"
    )
    assert friendly.returncode == 0, friendly.stderr
    assert json.loads(friendly.stdout)["action"] == "ALLOW"

    bad = _moderate(target, "--text", "")
    assert bad.returncode == 1
    error = json.loads(bad.stderr.strip().splitlines()[-1])
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"].startswith("text:")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_decisions_are_logged_as_json_lines(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MODGATE_PORT": str(port), "MODGATE_METRICS_PORT": "0"}
    proc = subprocess.Popen([*MODGATE, "serve"], env=env, stderr=subprocess.PIPE)
    try:
        _wait_serving(f"127.0.0.1:{port}", proc)
        result = _moderate(f"127.0.0.1:{port}", "--text", "see you soon", "--post-id", "log-1")
        assert result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    records = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    decisions = [r for r in records if r.get("logger") == "modgate.decisions"]
    assert len(decisions) == 1
    record = decisions[0]
    assert record["post_id"] == "log-1"
    assert record["action"] == "allow"
    assert set(record) >= {"decision_id", "scores", "reasons", "features", "models", "latency_ms"}


def test_serve_with_bad_config_fails_at_boot_with_message() -> None:
    env = {**os.environ, "MODGATE_DEADLINE_MS": "-5"}
    result = subprocess.run(
        [*MODGATE, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "deadline_ms" in result.stderr
