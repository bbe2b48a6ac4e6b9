"""Shared test configuration: the CI switch that turns missing-resource skips into failures,
and the golden-file update flag."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("MODGATE_REQUIRE_SERVICES") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files from the current outputs (only on purpose; review the diff).",
    )


def skip_or_fail(reason: str) -> None:
    """Skip for a missing resource, except in CI (MODGATE_REQUIRE_SERVICES=1) where it fails."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required resource missing in CI: {reason}")
    pytest.skip(reason)
