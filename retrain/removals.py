"""When is an automatic removal wrong? One definition for every report and every line.

A removed post is judged by its gold labels, with unknown labels left unknown:

* a source that labels ``toxicity`` (any offensive content) decides: a removal of a post it
  calls clean is false, of a post it calls offensive is right — whichever head fired (a post
  removed "for hate" that is offensive but not hateful was still offensive);
* otherwise the heads that fired decide: right if any of them is labelled 1, false if every
  one of them is labelled 0, unknown if one is unlabelled (a set that labels only hate cannot
  say whether a toxicity removal was right).

``removal_truth`` applies it to a matrix of gold labels (NaN = unknown) and a matrix of fired
REMOVE rules; ``retrain.text_eval`` (model cards, dev lines) and ``retrain.evaluate``
(``modgate eval``) both count false removals with it.

REMOVE lines are chosen with ``removal_threshold``: the lowest score whose dev-split removals
are false at most ``max_fp_share`` of the time *with 95 % confidence* (one-sided Wilson upper
bound), not merely on the sample. With a few hundred dev posts the bare sample rate is noise:
v2's first lines met 1 % on dev and gave 3–8 % on test in Italian, French and Arabic. A
language whose dev data cannot support a line this way gets none, and defers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Z_95_ONE_SIDED = 1.6449


def removal_truth(
    gold: np.ndarray, fired: np.ndarray, labels: Sequence[str], *, overall: str = "toxicity"
) -> np.ndarray:
    """Per row: 1.0 (a right removal), 0.0 (a false one) or NaN (unknown, or not removed).

    ``gold`` is [rows, labels] with NaN for unknown; ``fired`` is [rows, labels] bool, the
    labels whose REMOVE rule fired on the row."""
    out = np.full(len(gold), np.nan)
    removed = fired.any(axis=1)
    if overall in labels:
        g = gold[:, list(labels).index(overall)]
        decided = removed & ~np.isnan(g)
        out[decided] = g[decided]
    rest = removed & np.isnan(out)
    fired_gold = np.where(fired, gold, np.nan)
    any_positive = np.nan_to_num(fired_gold, nan=0.0).max(axis=1) >= 1  # NaNs count as 0
    all_known = ~np.any(fired & np.isnan(gold), axis=1)
    out[rest & any_positive] = 1.0
    out[rest & ~any_positive & all_known] = 0.0
    return out


def wilson_upper(false: np.ndarray, n: np.ndarray, z: float = Z_95_ONE_SIDED) -> np.ndarray:
    """One-sided upper confidence bounds of shares ``false / n`` (Wilson score interval)."""
    false, n = np.asarray(false, dtype=float), np.maximum(np.asarray(n, dtype=float), 1.0)
    share = false / n
    centre = share + z * z / (2 * n)
    spread = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return np.asarray((centre + spread) / (1 + z * z / n))


def removal_threshold(
    y: np.ndarray, p: np.ndarray, *, max_fp_share: float = 0.01, z: float = Z_95_ONE_SIDED
) -> float | None:
    """Lowest threshold whose removals (``p`` ≥ it) are false (``y`` = 0) at most
    ``max_fp_share`` of the time at the confidence ``z`` gives; None if no threshold is."""
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    false = np.cumsum(y[order] == 0)
    # a line at a score removes every row with that score: only the ends of ties count
    ends = np.nonzero(np.append(ranked[1:] != ranked[:-1], True))[0]
    ok = ends[wilson_upper(false[ends], ends + 1, z) <= max_fp_share]
    return float(ranked[ok[-1]]) if len(ok) else None
