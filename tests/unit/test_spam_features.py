"""The spam feature builder: layout, missing author data as NaN, counts, stable hashing."""

from __future__ import annotations

import math
import time
import zlib

import numpy as np
import pytest

from models.spam_features import (
    AUTHOR_FEATURES,
    FEATURE_CHARS,
    FEATURE_NAMES,
    HASH_BUCKETS,
    N_FEATURES,
    TEXT_FEATURES,
    build_features,
)
from modgate.types import Author

HASH_OFFSET = len(TEXT_FEATURES) + len(AUTHOR_FEATURES)


def features_of(text: str, author: Author | None = None) -> dict[str, float]:
    row = build_features([text], [author])[0]
    return dict(zip(FEATURE_NAMES, row.tolist(), strict=True))


def test_feature_names_are_unique_and_laid_out_text_author_hash() -> None:
    assert len(FEATURE_NAMES) == N_FEATURES == 23 + 4 + HASH_BUCKETS
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert FEATURE_NAMES[:23] == TEXT_FEATURES
    assert FEATURE_NAMES[23:27] == (
        "account_age_days",
        "followers",
        "posts_last_hour",
        "prior_violations",
    )
    assert FEATURE_NAMES[27] == "hash_000"
    assert FEATURE_NAMES[-1] == f"hash_{HASH_BUCKETS - 1:03d}"


@pytest.mark.parametrize("author", [None, Author(), Author(id="u1")])
def test_unknown_author_fields_are_nan_not_zero(author: Author | None) -> None:
    row = features_of("hello there", author)
    assert all(math.isnan(row[name]) for name in AUTHOR_FEATURES)


def test_known_author_fields_keep_their_values_and_unknown_ones_stay_nan() -> None:
    author = Author(id="u1", account_age_days=12.5, followers=0, posts_last_hour=3.0)
    row = features_of("hello there", author)
    assert row["account_age_days"] == 12.5
    assert row["followers"] == 0.0  # zero is a value, not "unknown"
    assert row["posts_last_hour"] == 3.0
    assert math.isnan(row["prior_violations"])


def test_counts_urls() -> None:
    row = features_of("Visit www.example.com or https://bit.ly/x1 today")
    assert row["urls"] == 2
    assert row["call_to_action_terms"] == 2  # visit, today


def test_counts_phone_numbers_and_short_codes() -> None:
    row = features_of("Call 09061701939 or txt WIN to 86888")
    assert row["phone_numbers"] == 1
    assert row["short_codes"] == 1
    assert row["call_to_action_terms"] == 2  # call, txt


def test_counts_money_and_prize_terms() -> None:
    row = features_of("You have WON a £2000 prize! Claim your free voucher")
    assert row["money_terms"] == 6  # £2…, won, prize, claim, free, voucher
    assert row["exclamations"] == 1
    assert row["non_ascii_ratio"] == pytest.approx(1 / 51)


def test_counts_social_media_shape() -> None:
    row = features_of(
        "Check out my channel!! subscribe https://bit.ly/x1 www.shop.example.com #crypto "
        "#money @trader_bob DM me on WhatsApp for forex profit 🚀🚀"
    )
    assert row["hashtags"] == 2
    assert row["mentions"] == 1
    assert row["link_hosts"] == 2
    assert row["shortener_links"] == 1  # bit.ly
    assert row["contact_terms"] == 2  # dm, whatsapp
    assert row["investment_terms"] == 3  # crypto, forex, profit
    assert row["promotion_terms"] == 3  # check out, my channel, subscribe
    assert row["emoji_ratio"] > 0


def test_an_email_address_is_not_a_mention() -> None:
    assert features_of("mail bob@example.org")["mentions"] == 0


def test_words_are_hashed_from_the_normalized_text() -> None:
    # Leetspeak and fancy letters fold to the words the model learned.
    plain = build_features(["free prize"], [None])[0, HASH_OFFSET:]
    disguised = build_features(["𝐟𝐫𝐞𝐞 pr1ze"], [None])[0, HASH_OFFSET:]
    np.testing.assert_array_equal(plain, disguised)


def test_unspaced_scripts_are_hashed_as_character_bigrams() -> None:
    text = "加我微信领取免费礼品"
    row = build_features([text], [None])[0, HASH_OFFSET:]
    assert row.sum() == 9 + 8  # 9 character bigrams and 8 pairs of them, not one long token


def test_counts_emails() -> None:
    assert features_of("mail me at bob@example.org")["emails"] == 1


def test_text_shape_of_a_plain_sentence() -> None:
    row = features_of("Hello  world")
    assert row["chars"] == 12
    assert row["words"] == 2
    assert row["upper_ratio"] == pytest.approx(1 / 10)
    assert row["max_repeat_run"] == 2  # "ll"
    assert row["mean_word_len"] == 5


def test_hashed_ngrams_land_in_fixed_crc32_buckets() -> None:
    # zlib.crc32(gram) % 512: "free" -> 456, "prize" -> 449, "free prize" -> 357. Fixed
    # numbers, so a change of hash function or bucket count (which silently invalidates
    # every trained model) fails here.
    expected = {"free": 456, "prize": 449, "free prize": 357}
    assert {g: zlib.crc32(g.encode()) % HASH_BUCKETS for g in expected} == expected
    hashed = build_features(["FREE prize"], [None])[0, HASH_OFFSET:]
    assert sorted(np.flatnonzero(hashed).tolist()) == sorted(expected.values())
    assert hashed.sum() == 3


def test_hashing_is_the_same_on_every_call() -> None:
    texts = ["Win a free cruise, txt GO to 80086", "see you at lunch"]
    first = build_features(texts, [None, None])
    second = build_features(list(reversed(texts)), [None, None])[::-1]
    np.testing.assert_array_equal(first, second)


def test_empty_text_gives_zero_text_and_hash_features() -> None:
    row = build_features([""], [None])[0]
    assert not row[: len(TEXT_FEATURES)].any()
    assert not row[HASH_OFFSET:].any()
    assert np.isnan(row[len(TEXT_FEATURES) : HASH_OFFSET]).all()


def test_batch_is_float32_with_one_row_per_text() -> None:
    batch = build_features(["a", "b b", "c c c"], [None, Author(followers=5), None])
    assert batch.shape == (3, N_FEATURES)
    assert batch.dtype == np.float32
    assert batch[:, FEATURE_NAMES.index("words")].tolist() == [1, 2, 3]
    assert build_features([], []).shape == (0, N_FEATURES)


def test_mismatched_texts_and_authors_raise() -> None:
    with pytest.raises(ValueError, match="2 texts but 1 authors"):
        build_features(["a", "b"], [None])


# Texts that made the URL and address patterns rescan the rest of the text from every
# position (0.4–3.3 s each before the patterns were guarded), at the gateway's 10,000-char limit.
HOSTILE = {
    "address characters without @": "a.+-" * 2_500,
    "dashed run": "a-" * 5_000,
    "dashed domain-like run": "a-b." * 2_500,
    "@ after every letter": "x@" * 5_000,
    "leet tokens": "1 3 3 7 " * 1_249,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_features_take_linear_time(text: str) -> None:
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        build_features([text], [Author()])
        best = min(best, time.perf_counter() - t0)
    assert best < 0.1, f"{best * 1000:.0f} ms for {len(text)} characters"


def test_text_features_read_a_bounded_head_and_chars_counts_the_whole_post() -> None:
    text = "Call 08001234567 now to claim your FREE prize! " * 200  # 9,400 characters
    whole, head = features_of(text, Author(id="u")), features_of(text[:FEATURE_CHARS])
    assert whole["chars"] == len(text)
    assert head["chars"] == FEATURE_CHARS
    names = [n for n in TEXT_FEATURES if n != "chars"] + [n for n in FEATURE_NAMES if "hash_" in n]
    assert [whole[n] for n in names] == [head[n] for n in names]
