"""Errors of the retraining room."""

from __future__ import annotations

from modgate.errors import ModgateError


class RetrainError(ModgateError):
    """Root of retraining errors."""


class DataError(RetrainError):
    """A labelled data file is malformed (unknown label, missing column) or too small."""
