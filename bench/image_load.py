"""Posts with an image under load, for ``bench/images.py``: a live gateway on 127.0.0.1 in a
background event loop, unique captioned memes, and an open-loop client at fixed rates
(latency from each post's scheduled send time to its verdict)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.images import encode, photo, with_caption

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
# The shipped text model scores the first two >= 0.90 toxicity (remove), the third >= 0.5 hate
# (defer); the others are clean.
TOXIC = ("that hoe is a dumb bitch", "shut up bitch ass hoe", "kill all immigrants")
CAPTIONS = (*TOXIC, "monday mood", "when the coffee kicks in", "best day ever", "weekend plans")
DEADLINE_MS = 400.0


class Memes:
    """JPEGs of 40 captioned photos (~512 px), a few pixels changed in each so that no two
    requests share their bytes (the image cache is off too)."""

    def __init__(self, n: int = 40) -> None:
        self.pool, self.n = [], 0
        for i in range(n):
            img = photo(PHOTOS[i % len(PHOTOS)])
            img = img.resize((img.width * 512 // max(img.size), img.height * 512 // max(img.size)))
            self.pool.append(with_caption(img, CAPTIONS[i % len(CAPTIONS)], size=28))

    def next(self) -> bytes:
        i, self.n = self.n, self.n + 1
        img = self.pool[i % len(self.pool)].copy()
        img.paste(((i * 37) % 256, (i * 91) % 256, (i // 256) % 256), (0, 0, 4, 4))
        return encode(img, quality=85)


def make_posts(kind: str, n: int, memes: Memes) -> list[Any]:
    from modgate.pb import moderation_pb2 as pb

    posts = []
    for i in range(n):
        author = pb.Author(id=f"a{i % 50}", followers=100, account_age_days=300)
        post = pb.ModerateRequest(post_id=f"{kind}-{memes.n}-{i}", author=author, region="US")
        if kind == "text":
            post.text = CAPTIONS[i % len(CAPTIONS)]
        else:
            post.text = "lol look at this"
            post.images.append(pb.Image(data=memes.next(), mime_type="image/jpeg"))
        posts.append(post)
    return posts


@contextmanager
def running_gateway(settings: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    """A gateway for ``settings`` (``GatewaySettings``) on its own event loop in a background
    thread, and the versions of its classifiers; stopped on exit."""
    from decision import load_policy
    from gateway.server import Gateway, load_classifiers

    logging.getLogger("modgate.decisions").propagate = False
    classifiers = load_classifiers(settings)
    versions = {name: clf.version for name, clf in classifiers.items()}
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        start = Gateway.start(settings, load_policy(settings.policy_path), classifiers)
        gateway = asyncio.run_coroutine_threadsafe(start, loop).result(timeout=60)
        try:
            yield gateway, versions
        finally:
            asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


@contextmanager
def live_gateway(tmp: Path, ocr: dict[str, Any]) -> Iterator[tuple[Any, dict[str, str]]]:
    """A gateway on its own event loop in a background thread, and a sync client stub."""
    import grpc

    from modgate.pb import moderation_pb2_grpc as pb_grpc
    from modgate.settings import GatewaySettings

    bank, no_cache = {"path": tmp / "empty-bank.jsonl"}, {"cache_entries": 0}
    settings = GatewaySettings(port=0, metrics_port=0, ocr=ocr, hashbank=bank, images=no_cache)
    with (
        running_gateway(settings) as (gateway, versions),
        grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        yield pb_grpc.ModerationStub(channel), versions


def pct(s: list[float], q: float) -> float:
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


def load_phase(stub: Any, posts: list[Any], rate: float) -> dict[str, Any]:
    """Send ``posts`` open loop at ``rate``/s; latency from the scheduled send to the reply."""
    from modgate.pb import moderation_pb2 as pb

    lock, all_done = threading.Lock(), threading.Event()
    got: list[tuple[float, float, Any, str]] = []  # (latency ms, done at, verdict, code)

    def finish(future: Any, due: float) -> None:
        now, code = time.perf_counter(), future.code().name
        verdict = future.result() if code == "OK" else None
        with lock:
            got.append(((now - due) * 1000.0, now, verdict, code))
            if len(got) == len(posts):
                all_done.set()

    t0 = time.perf_counter() + 0.05
    for i, post in enumerate(posts):
        due = t0 + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        stub.Moderate.future(post, timeout=2.0).add_done_callback(lambda f, d=due: finish(f, d))
    all_done.wait(timeout=30)
    lat = sorted(g[0] for g in got)
    ok = [g[2] for g in got if g[2] is not None]
    server = sorted(v.server_latency_ms for v in ok) or [float("nan")]
    return {
        "offered_per_s": rate,
        "posts": len(posts),
        "achieved_per_s": round(len(ok) / (max(g[1] for g in got) - t0), 2),
        "latency_ms": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "p99": pct(lat, 0.99)}
        | {"max": round(lat[-1], 1)},
        "server_ms": {"p50": pct(server, 0.5), "p99": pct(server, 0.99)},
        "over_deadline": sum(x > DEADLINE_MS for x in lat),
        "errors": dict(Counter(g[3] for g in got if g[3] != "OK")),
        "degraded_share": round(sum(v.degraded for v in ok) / max(1, len(ok)), 3),
        "actions": dict(Counter(pb.Action.Name(v.action).lower() for v in ok)),
        "ocr": dict(Counter(v.ocr or "no image" for v in ok)),
    }


def bench_load(tmp: Path, rates: list[float], seconds: float) -> tuple[dict[str, Any], Any]:
    memes, out, versions = Memes(), {}, {}
    for mode, ocr in (("ocr on", {"engine": "rapidocr"}), ("ocr off", {"engine": "off"})):
        with live_gateway(tmp, ocr) as (stub, versions[mode]):
            for post in make_posts("image", 6, memes):  # loads the OCR thread's engine
                stub.Moderate(post, timeout=10.0)
            for kind, label in (("image", mode), ("text", "text only")):
                if kind == "text" and mode == "ocr on":
                    continue
                out[label] = []
                for rate in rates:
                    posts = make_posts(kind, max(4, round(rate * seconds)), memes)
                    out[label].append(load_phase(stub, posts, rate))
                    time.sleep(1.0)  # a cut-off OCR run finishes in the background
    return out, versions
