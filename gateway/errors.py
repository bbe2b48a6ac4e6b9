"""Errors of the gateway room."""

from modgate.errors import ModgateError


class GatewayError(ModgateError):
    """Root of the gateway's errors."""
