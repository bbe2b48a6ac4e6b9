"""Author strikes: removals weighed by the policy into a per-category count.

Writers record each removal as a ``Strike`` (``modgate/keys.py``: post, category, source,
time); this module turns an author's strikes into the features the policy reads,
``author_strikes_<category>`` (and ``author_strikes``, the total over categories), using the
policy's ``strikes`` section: weight per category × weight per source, counted only within
the category's window. Weighing at read time means a policy change applies to past strikes
as well; nothing needs rewriting.
"""

from __future__ import annotations

from collections.abc import Iterable

from decision.policy import Policy
from modgate.keys import Strike

TOTAL_FEATURE = "author_strikes"


def strike_feature(category: str) -> str:
    """The feature name carrying an author's strikes in ``category``."""
    return f"{TOTAL_FEATURE}_{category}"


def strike_totals(strikes: Iterable[Strike], policy: Policy, *, now: float) -> dict[str, float]:
    """Weighted strikes per category within each category's window (categories the policy
    does not know are ignored; a post counts once per category, at its heaviest source)."""
    rules = policy.strikes
    sources = {str(k): v for k, v in rules.sources.items()}
    best: dict[tuple[str, str], float] = {}
    for strike in strikes:
        if strike.category not in policy.categories:
            continue
        if now - strike.at > rules.window_s(strike.category):
            continue
        weight = rules.weights.get(strike.category, 1.0) * sources.get(strike.source, 0.0)
        key = (strike.post_id, strike.category)
        best[key] = max(best.get(key, 0.0), weight)
    totals: dict[str, float] = {}
    for (_, category), weight in best.items():
        if weight > 0:
            totals[category] = round(totals.get(category, 0.0) + weight, 6)
    return totals


def strike_features(totals: dict[str, float]) -> dict[str, float]:
    """The features for ``totals``: the total and one per category with strikes."""
    features = {strike_feature(c): v for c, v in sorted(totals.items())}
    features[TOTAL_FEATURE] = round(sum(totals.values()), 6)
    return features
