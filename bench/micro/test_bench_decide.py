"""decide() on the reference policy: a typical post, a region override, and a degraded post."""

from __future__ import annotations

from typing import Any

from decision import decide, load_policy
from modgate.settings import DEFAULT_POLICY

POLICY = load_policy(DEFAULT_POLICY)


def test_decide_three_categories(benchmark: Any) -> None:
    scores = {"spam": 0.12, "toxicity": 0.31, "hate": 0.05}
    verdict = benchmark(decide, scores, {"region": "", "language": "en"}, POLICY)
    assert verdict.action.value == "allow"


def test_decide_eu_region_override(benchmark: Any) -> None:
    scores = {"spam": 0.12, "toxicity": 0.31, "hate": 0.87}
    verdict = benchmark(decide, scores, {"region": "DE", "language": "de"}, POLICY)
    # the EU hate override defers from 0.40; hate never auto-removes under the reference policy
    assert verdict.action.value == "defer"


def test_decide_with_missing_severe_model(benchmark: Any) -> None:
    verdict = benchmark(lambda: decide({"spam": 0.2}, {}, POLICY, missing=("hate",)))
    assert verdict.action.value == "defer"
