"""The Redis keys more than one room relies on: the slow path writes them, the gateway reads.

``slowpath/queue_redis.py`` owns the whole layout (and its Lua scripts build these same names
from the prefix); these two are the contract with the gateway, kept in one place:

- ``{prefix}author:{author_id}`` HASH: ``prior_violations``, ``approved``, ``reviews``,
  ``trust``: what reviews said about an author (``gateway/author_store.py`` reads it);
- ``{prefix}done:{post_id}`` STRING: set once the slow path queued or finalized a deferred
  post (``gateway/confirm.py`` reads it to know a deferred post arrived).
"""

from __future__ import annotations


def author_key(prefix: str, author_id: str) -> str:
    return f"{prefix}author:{author_id}"


def done_key(prefix: str, post_id: str) -> str:
    return f"{prefix}done:{post_id}"


def dead_letter_key(prefix: str, post_id: str) -> str:
    return f"{prefix}dead:{post_id}"
