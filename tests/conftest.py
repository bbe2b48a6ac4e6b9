"""Shared test configuration: the CI switch that turns missing-resource skips into failures,
and the golden-file update flag."""

from __future__ import annotations

import os
from pathlib import Path

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


def shared_data(*needed: str) -> Path:
    """The labelled-data root (``MODGATE_DATA_DIR``, default ``../shared/data``) once every
    ``needed`` path exists below it; otherwise skip (fail in CI) naming what is missing."""
    from modgate.settings import TrainSettings

    root = TrainSettings().data_dir
    missing = [name for name in needed if not (root / name).exists()]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found under {root} (set MODGATE_DATA_DIR)")
    return root
