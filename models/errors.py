"""Errors of the inference room; each carries the model's name and version."""

from __future__ import annotations

from modgate.errors import ModgateError


class ModelError(ModgateError):
    """Root of inference errors."""

    def __init__(self, model: str, version: str, message: str) -> None:
        super().__init__(f"{model}@{version}: {message}")
        self.model = model
        self.version = version


class ModelTimeoutError(ModelError):
    """The model did not answer within the time it was given."""


class ModelUnavailableError(ModelError):
    """The model cannot answer at all (not loaded, server down, closed)."""


class ModelInputError(ModelError):
    """The model refused the tensors it was sent (wrong name, dtype or shape)."""


class ModelOutputError(ModelError):
    """The model answered with outputs of the wrong shape or type."""


class ArtifactError(ModelError):
    """A model artifact on disk is missing pieces or inconsistent (raised at load/boot)."""
