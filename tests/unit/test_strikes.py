"""Author strikes: weighing removals into features, and the lower REMOVE line they buy."""

from __future__ import annotations

from typing import Any

import pytest

from decision import PolicyError, decide, parse_policy
from decision.strikes import TOTAL_FEATURE, strike_feature, strike_features, strike_totals
from modgate.keys import Strike, parse_strike, strike_member
from modgate.types import Action

DAY = 86_400.0
NOW = 1_800_000_000.0


def policy(**strikes: Any) -> Any:
    return parse_policy(
        {
            "version": "t",
            "categories": {
                "toxicity": {"remove_above": 0.9, "defer_above": 0.6},
                "spam": {"remove_above": 0.97, "defer_above": 0.7},
                "hate": {"remove_above": None, "defer_above": 0.5},
            },
            "languages": {"hi": {"categories": {"toxicity": {"remove_above": None}}}},
            "strikes": strikes,
        }
    )


def test_members_round_trip_even_with_bars_in_post_ids() -> None:
    member = strike_member("p|1", "toxicity", "moderator")
    assert parse_strike(member.encode(), 5.0) == Strike("p|1", "toxicity", "moderator", 5.0)
    assert parse_strike("p1|toxicity|someone", 5.0) is None  # unknown source
    assert parse_strike("garbage", 5.0) is None


def test_totals_weigh_by_category_and_source_within_each_window() -> None:
    rules = policy(
        weights={"spam": 2.0},
        window_days={"spam": 7},
        sources={"moderator": 1.0, "llm": 1.0, "auto": 0.5},
    )
    strikes = [
        Strike("a", "toxicity", "moderator", NOW - 10 * DAY),
        Strike("b", "toxicity", "auto", NOW - DAY),
        Strike("c", "toxicity", "llm", NOW - 91 * DAY),  # past the 90-day default window
        Strike("d", "spam", "moderator", NOW - 6 * DAY),
        Strike("e", "spam", "moderator", NOW - 8 * DAY),  # past spam's 7-day window
        Strike("f", "unknown_category", "moderator", NOW),
    ]
    assert strike_totals(strikes, rules, now=NOW) == {"toxicity": 1.5, "spam": 2.0}


def test_a_post_counts_once_per_category_at_its_heaviest_source() -> None:
    strikes = [
        Strike("a", "toxicity", "auto", NOW),
        Strike("a", "toxicity", "moderator", NOW),
        Strike("a", "toxicity", "moderator", NOW - 1),
    ]
    assert strike_totals(strikes, policy(), now=NOW) == {"toxicity": 1.0}


def test_features_carry_the_total_and_each_category() -> None:
    features = strike_features({"toxicity": 2.0, "spam": 0.5})
    assert features == {
        "author_strikes_spam": 0.5,
        "author_strikes_toxicity": 2.0,
        TOTAL_FEATURE: 2.5,
    }
    assert strike_features({}) == {TOTAL_FEATURE: 0.0}


def test_enough_strikes_lower_the_remove_line_and_say_so() -> None:
    rules = policy(lower_remove_at=3, lower_remove_by=0.05)
    scores = {"toxicity": 0.87}
    assert decide(scores, {}, rules).action is Action.DEFER
    assert decide(scores, {strike_feature("toxicity"): 2.5}, rules).action is Action.DEFER
    verdict = decide(scores, {strike_feature("toxicity"): 3.0}, rules)
    assert verdict.action is Action.REMOVE
    reason = verdict.reasons[0]
    assert reason.code == "toxicity.remove_above"
    assert reason.threshold == pytest.approx(0.85)
    assert "lowered from 0.9" in reason.detail
    assert "3 strikes" in reason.detail


def test_strikes_in_another_category_change_nothing() -> None:
    verdict = decide({"toxicity": 0.87}, {strike_feature("spam"): 10.0}, policy())
    assert verdict.action is Action.DEFER


def test_strikes_never_turn_on_removal_where_the_policy_has_none() -> None:
    rules = policy(lower_remove_at=1, lower_remove_by=0.5)
    features = {strike_feature("hate"): 9.0, strike_feature("toxicity"): 9.0}
    assert decide({"hate": 0.99}, features, rules).action is Action.DEFER
    hindi = {**features, "language": "hi"}
    assert decide({"toxicity": 0.99}, hindi, rules).action is Action.DEFER


def test_the_line_never_drops_below_defer_above() -> None:
    rules = policy(lower_remove_at=1, lower_remove_by=0.5)
    verdict = decide({"toxicity": 0.59}, {strike_feature("toxicity"): 5.0}, rules)
    assert verdict.action is Action.ALLOW
    verdict = decide({"toxicity": 0.61}, {strike_feature("toxicity"): 5.0}, rules)
    assert verdict.action is Action.REMOVE
    assert verdict.reasons[0].threshold == pytest.approx(0.6)


def test_lowering_can_be_turned_off() -> None:
    rules = policy(lower_remove_at=None)
    verdict = decide({"toxicity": 0.87}, {strike_feature("toxicity"): 50.0}, rules)
    assert verdict.action is Action.DEFER


@pytest.mark.parametrize(
    ("strikes", "message"),
    [
        ({"weights": {"nope": 1.0}}, "strikes.weights: unknown category 'nope'"),
        ({"window_days": {"nope": 3}}, "strikes.window_days: unknown category 'nope'"),
        ({"window_days": {"spam": 401}}, "less than or equal to 400"),
        ({"sources": {"robot": 1.0}}, "robot"),
        ({"lower_remove_by": 0.9}, "less than or equal to 0.5"),
    ],
)
def test_bad_strike_settings_fail_at_load(strikes: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy(**strikes)
