"""One definition of a false removal, and REMOVE lines that hold with confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrain.removals import removal_threshold, removal_truth, wilson_upper

NAN = math.nan
LABELS = ("toxicity", "hate")


@pytest.mark.parametrize(
    ("gold", "fired", "truth"),
    [
        ([0, NAN], [True, False], 0.0),  # labelled clean: false, whichever head fired
        ([0, 1], [False, True], 0.0),  # toxicity decides over the head that fired
        ([1, 0], [False, True], 1.0),  # offensive, removed "for hate": still right
        ([NAN, 0], [False, True], 0.0),  # hate-only set, hate fired, not hate: false
        ([NAN, 0], [True, False], NAN),  # hate-only set cannot judge a toxicity removal
        ([NAN, 1], [True, True], 1.0),  # one fired head is labelled 1: right
        ([NAN, NAN], [True, True], NAN),  # nothing known
        ([0, 0], [False, False], NAN),  # not removed
    ],
)
def test_removal_truth(gold: list[float], fired: list[bool], truth: float) -> None:
    out = removal_truth(np.array([gold]), np.array([fired]), LABELS)
    assert (math.isnan(out[0]) and math.isnan(truth)) or out[0] == truth


def test_wilson_bound_is_above_the_sample_share_and_shrinks_with_n() -> None:
    bounds = wilson_upper(np.array([0, 0, 3, 30]), np.array([100, 1000, 300, 3000]))
    assert bounds[0] > 0.02 > bounds[1] > 0
    assert bounds[2] > 0.01 < bounds[3] < bounds[2]


def test_line_needs_enough_clean_removals_to_be_confident() -> None:
    # 100 positives above every negative: 0 % false on the sample, but 100 removals cannot
    # show <= 1 % with confidence (the sample-share rule would draw a line here)
    y = np.array([1] * 100 + [0] * 1000)
    p = np.concatenate([np.linspace(1.0, 0.9, 100), np.linspace(0.8, 0.0, 1000)])
    assert removal_threshold(y, p, max_fp_share=0.01) is None
    # 1000 such positives can, and a few false removals below them still fit the bound: the
    # line is the lowest score whose removals keep the bound, one step lower breaks it
    y = np.array([1] * 1000 + [0] * 1000)
    p = np.concatenate([np.linspace(1.0, 0.9, 1000), np.linspace(0.8, 0.0, 1000)])
    line = removal_threshold(y, p, max_fp_share=0.01)
    assert line is not None
    assert 0.79 < line <= 0.8

    def bound(at: float) -> float:
        removed = p >= at
        return float(wilson_upper(np.array((y[removed] == 0).sum()), np.array(removed.sum())))

    assert bound(line) <= 0.01 < bound(float(np.max(p[p < line])))


def test_a_line_never_splits_tied_scores() -> None:
    # 400 positives and 4 negatives share one score: a line there removes all 404 (1 % sample,
    # bound above 1 %); the line must not be drawn at that score
    y = np.array([1] * 400 + [0] * 4 + [0] * 100)
    p = np.array([0.9] * 404 + [0.1] * 100)
    assert removal_threshold(y, p, max_fp_share=0.01) is None
