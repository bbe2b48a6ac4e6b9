"""``modgate up`` as a process (broker, Redis, gateway, worker on one machine), a post from
``modgate moderate``, a moderator working it with ``modgate review``, then SIGINT and a clean
exit that takes the broker and redis-server down with it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

MODGATE = [sys.executable, "-m", "modgate"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MODGATE, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _wait_line(proc: subprocess.Popen[str], timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("{"):
            return json.loads(line)["modgate_up"]
        if proc.poll() is not None:
            raise AssertionError(f"modgate up exited early with {proc.returncode}")
    raise AssertionError("modgate up did not report readiness")


def test_up_moderate_review_and_shut_down_cleanly(tmp_path: Path) -> None:
    gw, kafka, redis = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "MODGATE_REDIS__URL": f"redis://127.0.0.1:{redis}/0"}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [*MODGATE, "up", "--port", str(gw), "--kafka-port", str(kafka),
         "--redis-port", str(redis), "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env,
    )  # fmt: skip
    try:
        ready = _wait_line(proc, 60)
        assert ready["gateway"] == f"127.0.0.1:{gw}"
        moderated = _run(
            "moderate", "--target", f"127.0.0.1:{gw}", "--post-id", "up-1",
            "--text", "this is crap", "--author-id", "ann-author",
            "--followers", "50", env=env,
        )  # fmt: skip
        assert json.loads(moderated.stdout)["action"] == "DEFER", moderated.stderr

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = json.loads(_run("review", "list", env=env).stdout)
            if listed["waiting"] == 1:
                break
            time.sleep(0.3)
        assert [i["post_id"] for i in listed["items"]] == ["up-1"]

        claimed = _run("review", "next", "--moderator", "ann", env=env)
        shown = json.loads(claimed.stdout)
        assert (shown["post_id"], shown["claimed_by"]) == ("up-1", "ann")
        assert shown["text"] == "this is crap"

        stolen = _run("review", "decide", "up-1", "-m", "bob", "--action", "remove", env=env)
        assert stolen.returncode == 1
        assert "does not hold the lease" in stolen.stderr
        renewed = _run("review", "renew", "up-1", "-m", "ann", env=env)
        assert renewed.returncode == 0, renewed.stderr
        assert json.loads(renewed.stdout)["claimed_by"] == "ann"

        decided = _run("review", "decide", "up-1", "-m", "ann", "--action", "remove", env=env)
        assert decided.returncode == 0, decided.stderr
        assert json.loads(decided.stdout)["author"]["prior_violations"] == 1
        assert _run("review", "next", "-m", "ann", env=env).returncode == 3  # empty now
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert not any(_listening(p) for p in (gw, kafka, redis))
