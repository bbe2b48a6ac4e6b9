"""Root errors. Each room derives its own root from ``ModgateError``; leaves name what
happened and carry the context (field, model, request id) a caller needs to act."""

from __future__ import annotations


class ModgateError(Exception):
    """Root of every error modgate raises on purpose."""


class ConfigError(ModgateError):
    """Settings or a config file are invalid; raised at boot, never at the first request."""


class BadInputError(ModgateError):
    """A request is malformed or over a limit. ``field`` names the offending field path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
