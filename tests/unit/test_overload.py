"""The overload guard: posts being scored count against its limit; it admits again once they
finish, and admits everything when turned off."""

from __future__ import annotations

from gateway.metrics import GatewayMetrics
from gateway.overload import OverloadGuard
from modgate.settings import OverloadSettings


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
