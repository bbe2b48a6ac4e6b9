"""The moderator queue's priority formula: severity, reach, and an aging sort key that never
needs rescoring."""

from __future__ import annotations

import math
import random

import pytest

from slowpath.priority import priority_at, reach, severity, sort_key

WEIGHTS = {"hate": 3.0, "spam": 1.0}
HOUR = 3600.0
NOW = 1_700_000_000.0


def test_severity_is_the_largest_weighted_score() -> None:
    value, top = severity(
        {"hate": 0.3, "spam": 0.8, "other": 0.5},
        WEIGHTS,
        default_weight=2.0,
        min_severity=0.05,
    )
    assert value == pytest.approx(1.0)  # other: 0.5 x default 2.0 beats hate 0.9, spam 0.8
    assert top == "other"


def test_severity_is_floored_at_the_minimum() -> None:
    assert severity({"spam": 0.01}, WEIGHTS, default_weight=1.0, min_severity=0.05) == (
        0.05,
        "spam",
    )


def test_severity_without_scores_is_the_minimum_with_no_category() -> None:
    assert severity({}, WEIGHTS, default_weight=1.0, min_severity=0.05) == (0.05, "")


def test_severity_ignores_non_finite_scores() -> None:
    value, top = severity(
        {"hate": math.nan, "spam": 0.4}, WEIGHTS, default_weight=1.0, min_severity=0.05
    )
    assert value == pytest.approx(0.4)
    assert top == "spam"


@pytest.mark.parametrize(
    ("followers", "expected"),
    [(None, 1.0), (0, 1.0), (-5, 1.0), (9, 2.0), (999, 4.0)],
)
def test_reach_grows_by_one_per_tenfold_audience(followers: int | None, expected: float) -> None:
    assert reach(followers) == pytest.approx(expected)


def test_waiting_one_doubling_period_doubles_priority() -> None:
    before = priority_at(2.0, 1.5, NOW, NOW, HOUR)
    after = priority_at(2.0, 1.5, NOW, NOW + HOUR, HOUR)
    assert before == pytest.approx(3.0)
    assert after == pytest.approx(2 * before)


def test_sort_key_orders_items_like_priority_at_any_later_time() -> None:
    rng = random.Random(20240611)
    items = [
        (rng.uniform(0.05, 3.0), reach(rng.randrange(0, 1_000_000)), NOW - rng.uniform(0, 5 * HOUR))
        for _ in range(200)
    ]
    by_key = sorted(items, key=lambda it: sort_key(it[0], it[1], it[2], HOUR), reverse=True)
    for later in (0.0, 60.0, HOUR, 10 * HOUR):
        by_priority = sorted(
            items, key=lambda it: priority_at(it[0], it[1], it[2], NOW + later, HOUR), reverse=True
        )
        assert by_priority == by_key


def test_sort_key_is_log2_of_priority_minus_a_term_common_to_all_items() -> None:
    key = sort_key(2.0, 3.0, NOW - HOUR, HOUR)
    assert key + NOW / HOUR == pytest.approx(
        math.log2(priority_at(2.0, 3.0, NOW - HOUR, NOW, HOUR))
    )


def test_an_older_low_severity_item_outranks_a_newer_severe_one_after_enough_waiting() -> None:
    severe = (3.0, 1.0, NOW)  # arrives now at 3.0
    waited_2h = (0.5, 1.0, NOW - 2 * HOUR)  # 0.5 x 2**2 = 2.0 now: not yet
    waited_3h = (0.5, 1.0, NOW - 3 * HOUR)  # 0.5 x 2**3 = 4.0 now: ahead
    assert priority_at(*waited_2h, NOW, HOUR) < priority_at(*severe, NOW, HOUR)
    assert priority_at(*waited_3h, NOW, HOUR) > priority_at(*severe, NOW, HOUR)
    assert sort_key(*waited_2h, HOUR) < sort_key(*severe, HOUR) < sort_key(*waited_3h, HOUR)
