"""Golden-file test for ``decide``: every case in golden/decision_cases.yaml, decided against
golden/policy.yaml (a frozen copy of the reference policy as of 2026-11-21.1, so retuning the
shipped thresholds for a new model does not rewrite engine goldens), must match
golden/decision_expected.json exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from decision import decide, load_policy
from modgate.types import Verdict

GOLDEN = Path(__file__).parent / "golden"
CASES = yaml.safe_load((GOLDEN / "decision_cases.yaml").read_text())
EXPECTED_PATH = GOLDEN / "decision_expected.json"


def _as_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "action": verdict.action.value,
        "reasons": [
            {
                "code": r.code,
                "action": r.action.value,
                **({"score": r.score, "threshold": r.threshold} if r.threshold is not None else {}),
            }
            for r in verdict.reasons
        ],
        "policy_version": verdict.policy_version,
        "missing": list(verdict.missing_categories),
        "spike_mode": verdict.spike_mode,
    }


def _decide_all() -> dict[str, dict[str, Any]]:
    policy = load_policy(GOLDEN / "policy.yaml")
    return {
        case["name"]: _as_json(
            decide(
                case.get("scores", {}),
                case.get("features", {}),
                policy,
                missing=case.get("missing", ()),
                spike=case.get("spike", False),
            )
        )
        for case in CASES
    }


def test_decisions_match_golden_file(request: pytest.FixtureRequest) -> None:
    actual = _decide_all()
    if request.config.getoption("--update-golden"):
        EXPECTED_PATH.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected = json.loads(EXPECTED_PATH.read_text())
    assert sorted(actual) == sorted(expected), "cases and golden file disagree on case names"
    for name in expected:
        assert actual[name] == expected[name], f"golden case {name!r} changed"


def test_case_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
