"""modgate: self-hosted, low-latency content moderation.

This package is the shared vocabulary every room speaks: domain types, typed settings,
root errors and logging helpers (plus ``modgate.cli``, the one place that wires rooms).
"""

__version__ = "0.1.0"
