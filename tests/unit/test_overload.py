"""The overload guard: posts being scored count against its limit; it admits again once they
finish, admits any call when idle, and admits everything when turned off; its limit must hold
the largest batch."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.metrics import GatewayMetrics
from gateway.overload import OverloadGuard
from modgate.settings import GatewaySettings, OverloadSettings


def test_posts_being_scored_count_against_the_limit() -> None:
    guard = OverloadGuard(OverloadSettings(max_scoring_posts=3), GatewayMetrics())
    with guard.scoring_posts(2):
        assert guard.admit(1)
        assert not guard.admit(2)
    assert guard.scoring == 0
    assert guard.admit(3)


def test_disabled_guard_admits_everything() -> None:
    guard = OverloadGuard(OverloadSettings(enabled=False, max_scoring_posts=1), GatewayMetrics())
    with guard.scoring_posts(5):
        assert guard.admit(5)


def test_an_idle_guard_admits_a_call_larger_than_the_limit() -> None:
    guard = OverloadGuard(OverloadSettings(max_scoring_posts=3), GatewayMetrics())
    assert guard.admit(5)  # nothing else is being scored
    with guard.scoring_posts(5):
        assert not guard.admit(1)


def test_a_scoring_limit_below_the_batch_limit_fails_at_boot() -> None:
    with pytest.raises(ValidationError, match="max_scoring_posts"):
        GatewaySettings(overload=OverloadSettings(max_scoring_posts=32), max_batch_posts=64)
    GatewaySettings(overload=OverloadSettings(max_scoring_posts=32), max_batch_posts=32)
    GatewaySettings(overload=OverloadSettings(enabled=False, max_scoring_posts=1))
