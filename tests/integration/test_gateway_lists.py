"""Trust-and-safety lists in a real gateway: an entry added with ``modgate lists`` applies to
the next posts without a restart, and a pattern built to backtrack, run against hostile
10,000-character posts, does not hold up ordinary posts (RE2, off the event loop)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modgate.pb import moderation_pb2 as pb
from modgate.settings import ListsSettings
from tests.integration.conftest import StartGateway, spam_classifier

pytestmark = pytest.mark.integration

POST = "Join our crypto group for daily signals at https://pump.example/join today friends"


def lists_cli(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "modgate", "lists", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MODGATE_LOG_JSON": "false"},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


async def test_a_list_entry_applies_without_a_restart(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    path = tmp_path / "lists.yaml"
    _, stub = await start_gateway(
        {"spam": spam_classifier()}, lists=ListsSettings(path=path, reload_s=0.1)
    )
    before = await stub.Moderate(pb.ModerateRequest(post_id="a", text=POST), timeout=5)
    assert "spam.list.pump" not in before.reason_codes
    lists_cli(
        "add", "--lists", str(path), "--kind", "domain", "--value", "pump.example",
        "--category", "spam", "--reason", "pump", "--action", "remove",
    )  # fmt: skip
    await asyncio.sleep(0.4)
    after = await stub.Moderate(pb.ModerateRequest(post_id="b", text=POST), timeout=5)
    assert after.action == pb.REMOVE
    assert "spam.list.pump" in after.reason_codes
    lists_cli("remove", "--lists", str(path), "--value", "pump.example")
    await asyncio.sleep(0.4)
    again = await stub.Moderate(pb.ModerateRequest(post_id="c", text=POST), timeout=5)
    assert "spam.list.pump" not in again.reason_codes


async def test_a_backtracking_pattern_on_hostile_posts_does_not_hold_up_others(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    path = tmp_path / "lists.yaml"
    path.write_text(
        "entries:\n"
        "  - {kind: regex, value: '(x+x+)+y', category: spam, reason: evil}\n"
        "  - {kind: regex, value: '(a|aa)+$', category: spam, reason: evil2}\n"
    )
    _, stub = await start_gateway({"spam": spam_classifier()}, lists=ListsSettings(path=path))
    hostile = [pb.ModerateRequest(post_id=f"h{i}", text=("x" * 4999 + " ") * 2) for i in range(4)]
    loop = asyncio.get_running_loop()
    ordinary_ms: list[float] = []

    async def ordinary(n: int) -> None:
        started = loop.time()
        request = pb.ModerateRequest(post_id=f"o{n}", text="see you at lunch tomorrow")
        await stub.Moderate(request, timeout=5)
        ordinary_ms.append((loop.time() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(
        *(stub.Moderate(r, timeout=5) for r in hostile), *(ordinary(n) for n in range(8))
    )
    assert time.perf_counter() - started < 2.0
    assert max(ordinary_ms) < 400  # inside the deadline
