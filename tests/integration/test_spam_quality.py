"""The shipped spam model on held-out rows, through the serving classifier and the real policy.

Guards against shipping a model that flags ordinary speech again (the SMS-only model deferred
58 of 500 ordinary tweets and scored a political tweet with a phone number 0.997) or that
stops catching social-media spam. Test rows only (the content split of ``retrain/spam_data``),
so nothing here was trained on; the full tables are in the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from decision import decide, load_policy
from models.spam import SpamClassifier
from modgate.settings import DEFAULT_POLICY
from modgate.types import SPAM, Action, Post
from retrain.corpora import english, seed
from retrain.spam_cases import written_spam_rows
from retrain.spam_data import SpamRow, read_legitimate, read_spam_sources
from tests.conftest import shared_data
from tests.integration.conftest import spam_classifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("sms_spam", "scamspot", "davidson", "hatexplain", "toxic_spans")


async def scores(classifier: SpamClassifier, rows: Sequence[SpamRow]) -> list[float]:
    posts = [Post(post_id=str(i), text=r.text) for i, r in enumerate(rows)]
    out: list[float] = []
    for start in range(0, len(posts), 256):
        batch = await classifier.predict(posts[start : start + 256], timeout_s=30.0)
        out.extend(s[SPAM] for s in batch)
    return out


@pytest.fixture(scope="module")
def classifier() -> SpamClassifier:
    return spam_classifier()


async def test_ordinary_english_posts_are_neither_removed_nor_deferred_for_spam(
    data_dir: Path, classifier: SpamClassifier
) -> None:
    corpora = [*seed.CORPORA[:1], *english.CORPORA]  # Davidson tweets, then forum/comments
    legit = [r for r in read_legitimate(data_dir, corpora) if r.split == "test"]
    assert len(legit) > 10_000
    policy = load_policy(DEFAULT_POLICY)
    lines = policy.categories[SPAM]
    defer_above, remove_above = lines.defer_above, lines.remove_above
    assert remove_above is not None
    got = await scores(classifier, legit)
    verdicts = [decide({SPAM: s}, {"language": "en"}, policy).action for s in got]
    assert verdicts.count(Action.REMOVE) == 0  # the model alone never removes spam
    assert sum(s >= remove_above for s in got) <= 0.001 * len(got)
    assert sum(s >= defer_above for s in got) <= 0.002 * len(got)


async def test_social_media_and_sms_spam_is_caught(
    data_dir: Path, classifier: SpamClassifier
) -> None:
    policy = load_policy(DEFAULT_POLICY)
    defer_above = policy.categories[SPAM].defer_above
    written = [r for r in written_spam_rows() if r.split == "test"]
    for source, floor in (("sms", 0.85), ("scamspot", 0.7), ("spam_written_en", 0.65)):
        if source == "spam_written_en":
            spam = written
        else:
            rows = read_spam_sources(data_dir, [source])
            spam = [r for r in rows if r.split == "test" and r.label]
        got = await scores(classifier, spam)
        recall = sum(s >= defer_above for s in got) / len(got)
        assert recall >= floor, f"{source}: {recall:.3f} of test spam deferred or removed"
