"""The policy's image rules: a hash-bank match is cited by its entry with the action of the
``known_media`` rule, and text inside images that was not read defers (or allows, as the
policy says) with ``ocr.unread``; images not decoded in time defer with ``images.undecoded``."""

from __future__ import annotations

import pytest
import yaml

from decision import decide, load_policy, parse_policy
from modgate.settings import DEFAULT_POLICY
from modgate.types import Action, Reason

POLICY = load_policy(DEFAULT_POLICY)
MATCH = Reason("known_media.entry.case-1", Action.ALLOW, "known_media", 0.97, detail="bank")


def test_a_bank_match_removes_and_names_the_entry() -> None:
    verdict = decide({"known_media": 1.0}, {}, POLICY, evidence=[MATCH])
    assert verdict.action is Action.REMOVE
    assert verdict.reason_codes[:2] == ("known_media.remove_above", "known_media.entry.case-1")
    assert verdict.reasons[1].action is Action.REMOVE  # takes the category rule's action


def test_evidence_for_an_unscored_category_is_not_cited() -> None:
    verdict = decide({"spam": 0.1}, {}, POLICY, evidence=[MATCH])
    assert "known_media.entry.case-1" not in verdict.reason_codes


@pytest.mark.parametrize("status", ["skipped_budget", "deferred", "failed"])
def test_unread_image_text_defers(status: str) -> None:
    verdict = decide({"toxicity": 0.1, "nsfw": 0.01}, {"ocr": status}, POLICY)
    assert verdict.action is Action.DEFER
    assert verdict.reason_codes == ("ocr.unread",)
    assert status in verdict.reasons[0].detail


@pytest.mark.parametrize("status", ["done", "off", None])
def test_read_or_unconfigured_ocr_adds_no_rule(status: str | None) -> None:
    verdict = decide({"toxicity": 0.1}, {"ocr": status}, POLICY)
    assert verdict.action is Action.ALLOW
    assert verdict.reason_codes == ("all.below_thresholds",)


def test_the_policy_may_accept_unread_image_text() -> None:
    document = yaml.safe_load(DEFAULT_POLICY.read_text())
    document["images"] = {"on_ocr_unread": "allow"}
    policy = parse_policy(document)
    verdict = decide({"toxicity": 0.1}, {"ocr": "skipped_budget"}, policy)
    assert verdict.action is Action.ALLOW
    assert verdict.reason_codes == ("ocr.unread",)


def test_images_not_decoded_in_time_defer_the_post() -> None:
    verdict = decide({"toxicity": 0.01, "nsfw": 0.01}, {"images_undecoded": 2}, POLICY)
    assert verdict.action is Action.DEFER
    [reason] = [r for r in verdict.reasons if r.code == "images.undecoded"]
    assert "2 image(s)" in reason.detail
    assert decide({"toxicity": 0.01}, {"images_undecoded": 0}, POLICY).action is Action.ALLOW
