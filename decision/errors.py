"""Errors of the policy engine."""

from modgate.errors import ConfigError, ModgateError


class DecisionError(ModgateError):
    """Root of the decision room's errors."""


class PolicyError(DecisionError, ConfigError):
    """A policy file is missing, malformed or inconsistent (raised at load, i.e. at boot)."""
