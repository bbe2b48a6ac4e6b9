"""A spam wave through a real gateway and a real Redis: 50 new accounts post near-duplicates
of a link message (another link path, name and emoji each) within seconds, while 500 ordinary
accounts post real tweets (Davidson's "neither" class). The gateway measures near-duplicates
by other authors itself (MinHash, ``gateway/behaviour.py``): after the first few posts the
wave is deferred or removed, and no ordinary post is removed, since the spam model alone never
removes (``spam.remove_needs_evidence``)."""

from __future__ import annotations

import asyncio
import csv
import random

import pytest

from modgate.embedded import LocalRedis
from modgate.pb import moderation_pb2 as pb
from modgate.settings import RedisSettings
from tests.conftest import shared_data
from tests.integration.conftest import StartGateway, spam_classifier

pytestmark = [pytest.mark.integration, pytest.mark.redis]

WAVE = [
    "WIN a FREE iPhone now!!! {name} just claimed theirs, click {link} before midnight {emoji}",
    "Check out my channel {name}!! subscribe and win a FREE iPhone, click {link} now {emoji}",
]
NAMES = ["Anna", "Ben", "Chloe", "Dev", "Emma", "Femi", "Gus", "Hana", "Ivo", "Jade"]
EMOJI = ["🔥", "💰", "🎁", "✨", "😍", "🤑", ""]


def ordinary_tweets(n: int) -> list[str]:
    path = shared_data("davidson/labeled_data.csv") / "davidson/labeled_data.csv"
    with path.open(newline="", encoding="utf-8") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f) if row["class"] == "2"]
    return random.Random(7).sample(tweets, n)


def wave_posts(n: int) -> list[str]:
    rng = random.Random(11)
    return [
        WAVE[i % 2].format(
            name=rng.choice(NAMES),
            link=f"http://bit.ly/{rng.getrandbits(32):x}",
            emoji=rng.choice(EMOJI),
        )
        for i in range(n)
    ]


async def test_a_spam_wave_is_stopped_and_ordinary_posts_are_left_alone(
    start_gateway: StartGateway, redis_server: LocalRedis
) -> None:
    _, stub = await start_gateway(
        {"spam": spam_classifier()},
        redis=RedisSettings(url=redis_server.url),
        author_lookup_timeout_ms=200,  # a loaded test machine: the budget, not the feature
    )
    posts = [("ordinary", f"user-{i}", text) for i, text in enumerate(ordinary_tweets(500))]
    wave = [("wave", f"new-account-{i}", text) for i, text in enumerate(wave_posts(50))]
    rng = random.Random(3)
    schedule = posts[:]
    for item in wave:  # the wave spread through the ordinary traffic, in its own order
        schedule.insert(rng.randrange(len(schedule) + 1), item)
    verdicts: list[tuple[str, pb.Verdict]] = []
    for n, (kind, author, text) in enumerate(schedule):
        request = pb.ModerateRequest(
            post_id=f"p{n}", text=text, author=pb.Author(id=author, account_age_days=0.1)
        )
        verdicts.append((kind, await stub.Moderate(request, timeout=5)))
        await asyncio.sleep(0)

    wave_verdicts = [v for kind, v in verdicts if kind == "wave"]
    stopped = [v.action in (pb.DEFER, pb.REMOVE) for v in wave_verdicts[3:]]
    assert sum(stopped) / len(stopped) >= 0.95
    assert any("spam.near_duplicate_burst" in v.reason_codes for v in wave_verdicts)
    ordinary = [v for kind, v in verdicts if kind == "ordinary"]
    assert [v.post_id for v in ordinary if v.action == pb.REMOVE] == []
    bursts = [v.post_id for v in ordinary if "spam.near_duplicate_burst" in v.reason_codes]
    assert len(bursts) <= 5  # retweets of one popular tweet may repeat; a handful at most
