"""Policy loading and validation: bad policies fail at load with a message naming the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from decision import PolicyError, decide, load_policy, parse_policy
from modgate.settings import DEFAULT_POLICY
from modgate.types import Action


def _policy(**categories: dict[str, Any]) -> dict[str, Any]:
    return {"version": "t1", "categories": categories}


def test_reference_policy_loads_and_covers_core_categories() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert {"spam", "toxicity", "hate", "nsfw"} <= set(policy.categories)
    assert policy.categories["hate"].severe


@pytest.mark.parametrize(
    ("category", "message"),
    [
        ({"remove_above": 0.5, "defer_above": 0.8}, r"defer_above \(0.8\) must be <= remove_above"),
        ({"remove_above": 1.5, "defer_above": 0.8}, "less than or equal to 1"),
        (
            {"remove_above": 0.9, "defer_above": 0.5, "severe": True, "on_missing": "allow"},
            "severe",
        ),
        ({"remove_above": 0.9, "defer_above": 0.5, "spike_max_defer_above": 0.4}, "spike_max"),
        ({"remove_above": 0.9, "defer_above": 0.5, "spike_max_defer_above": 0.95}, "spike_max"),
        ({"remove_above": 0.9, "defer_above": 0.5, "typo_field": 1}, "typo_field"),
    ],
)
def test_inconsistent_category_is_rejected_with_reason(
    category: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(_policy(spam=category))


def test_region_override_naming_unknown_category_is_rejected() -> None:
    doc = _policy(spam={"remove_above": 0.9, "defer_above": 0.5})
    doc["regions"] = {"EU": {"members": ["DE"], "categories": {"hate": {"defer_above": 0.1}}}}
    with pytest.raises(PolicyError, match="unknown category 'hate'"):
        parse_policy(doc)


def test_override_that_breaks_ordering_is_rejected_at_load() -> None:
    doc = _policy(spam={"remove_above": 0.9, "defer_above": 0.5})
    doc["languages"] = {"de": {"categories": {"spam": {"defer_above": 0.95}}}}
    with pytest.raises(PolicyError, match="defer_above"):
        parse_policy(doc)


def test_on_all_missing_cannot_be_allow() -> None:
    doc = _policy(spam={"remove_above": 0.9, "defer_above": 0.5})
    doc["on_all_missing"] = "allow"
    with pytest.raises(PolicyError, match="on_all_missing"):
        parse_policy(doc)


def test_bad_category_name_is_rejected() -> None:
    with pytest.raises(PolicyError, match="lower snake case"):
        parse_policy(_policy(**{"Spam-Score": {"remove_above": 0.9, "defer_above": 0.5}}))


def test_invalid_yaml_and_missing_file_raise_policy_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_language_override_applies_after_region() -> None:
    doc = _policy(toxicity={"remove_above": 0.9, "defer_above": 0.5})
    doc["regions"] = {"EU": {"members": ["DE"], "categories": {"toxicity": {"defer_above": 0.4}}}}
    doc["languages"] = {"ar": {"categories": {"toxicity": {"remove_above": 0.99}}}}
    policy = parse_policy(doc)
    eff = policy.effective("toxicity", region="de", language="ar-EG")
    assert (eff.remove_above, eff.defer_above) == (0.99, 0.4)
    verdict = decide({"toxicity": 0.95}, {"region": "DE", "language": "ar"}, policy)
    assert verdict.action is Action.DEFER


def test_remove_above_null_never_removes() -> None:
    policy = parse_policy(_policy(spam={"remove_above": None, "defer_above": 0.5}))
    assert decide({"spam": 1.0}, {}, policy).action is Action.DEFER


def test_reasons_are_ordered_most_severe_first() -> None:
    policy = load_policy(Path(__file__).parent / "golden" / "policy.yaml")
    verdict = decide({"spam": 0.8, "hate": 0.99}, {}, policy, missing=["toxicity"])
    severities = [r.action.severity for r in verdict.reasons]
    assert severities == sorted(severities, reverse=True)
    assert verdict.reason_codes[0] == "hate.remove_above"


def test_spam_removes_only_with_behaviour_evidence() -> None:
    """The spam model alone defers; with a burst of near-duplicates it removes."""
    policy = load_policy(DEFAULT_POLICY)
    alone = decide({"spam": 0.995}, {"near_duplicate_authors": 0, "author_posts_1m": 1}, policy)
    assert alone.action is Action.DEFER
    assert "spam.remove_needs_evidence" in alone.reason_codes
    burst = decide({"spam": 0.995}, {"near_duplicate_authors": 4}, policy)
    assert burst.action is Action.REMOVE
    assert burst.reason_codes[:2] == ("spam.remove_above", "spam.near_duplicate_burst")
    low = decide({"spam": 0.05}, {"author_posts_1m": 25}, policy)
    assert low.action is Action.DEFER
    assert "spam.flood" in low.reason_codes
    unknown = decide({"spam": 0.05}, {"near_duplicate_authors": None}, policy)
    assert unknown.action is Action.ALLOW


def test_a_behaviour_signal_must_name_a_known_category() -> None:
    document = yaml.safe_load(DEFAULT_POLICY.read_text())
    document["behaviour"]["flood"]["category"] = "nope"
    with pytest.raises(PolicyError, match=r"behaviour\.flood"):
        parse_policy(document)
