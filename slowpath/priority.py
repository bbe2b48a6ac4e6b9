"""Priority of a post waiting for a moderator: severity x reach, doubled by every period waited.

An item's priority at time ``now`` is

    priority(now) = severity x reach x 2 ** ((now - enqueued_at) / doubling_s)

with severity = max over categories of (model score x category weight), floored at a minimum so
an item with no scores still moves; reach = 1 + log10(1 + followers); ``doubling_s`` the time
after which waiting has doubled an item's priority. Because the age factor is exponential, two
waiting items age by the same *factor*, so their order never changes as time passes: taking
log2 of the formula,

    log2 priority(now) = [log2(severity x reach) - enqueued_at / doubling_s] + now / doubling_s

and the bracket (``sort_key``) does not depend on ``now``. The queue therefore stores one static
score per item (a Redis sorted-set score) and never rescores; an older low-severity item still
overtakes a newer severe one once it has waited long enough. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def severity(
    scores: Mapping[str, float],
    weights: Mapping[str, float],
    *,
    default_weight: float,
    min_severity: float,
) -> tuple[float, str]:
    """Max over categories of score x weight, floored at ``min_severity``; with the category
    that gave it ("" when no category scored above zero). Non-finite scores are ignored."""
    best, top = 0.0, ""
    for category, score in scores.items():
        if not math.isfinite(score):
            continue
        weighted = score * weights.get(category, default_weight)
        if weighted > best:
            best, top = weighted, category
    return max(best, min_severity), top


def reach(followers: int | None) -> float:
    """1 + log10(1 + followers): 1 for an unknown or new author, +1 per tenfold audience."""
    return 1.0 + math.log10(1 + max(followers or 0, 0))


def sort_key(severity: float, reach: float, enqueued_at: float, doubling_s: float) -> float:
    """log2(severity x reach) - enqueued_at / doubling_s: a time-invariant ordering key
    (higher is served first)."""
    return math.log2(severity * reach) - enqueued_at / doubling_s


def priority_at(
    severity: float, reach: float, enqueued_at: float, now: float, doubling_s: float
) -> float:
    """severity x reach x 2 ** ((now - enqueued_at) / doubling_s)."""
    return severity * reach * math.exp2((now - enqueued_at) / doubling_s)
