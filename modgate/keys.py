"""The Redis keys more than one room relies on: the slow path writes them, the gateway reads.

``slowpath/queue_redis.py`` owns the whole layout (and its Lua scripts build these same names
from the prefix); these two are the contract with the gateway, kept in one place:

- ``{prefix}author:{author_id}`` HASH: ``prior_violations``, ``approved``, ``reviews``,
  ``trust``: what reviews said about an author (``gateway/author_store.py`` reads it);
- ``{prefix}done:{post_id}`` STRING: set once the slow path queued or finalized a deferred
  post (``gateway/confirm.py`` reads it to know a deferred post arrived);
- ``{prefix}strikes:{author_id}`` ZSET: one member per removal counted against the author,
  ``{post_id}|{category}|{source}`` (source ``moderator``, ``llm`` or ``auto`` for the
  gateway's own removals), scored by the time of the removal, kept ``STRIKES_KEEP_S``. The
  slow path (moderator and judge removals) and the gateway (auto-removals) write it; the
  gateway reads it and weighs it with the policy's ``strikes`` section
  (``decision/strikes.py``), so a policy change re-weighs past strikes too. A member is
  written once per post and category: a retried write changes nothing.
- ``{prefix}domain:{host}`` HASH: ``removed`` (moderator removals for spam of posts linking
  to the host) and ``approved`` (moderator approvals of posts linking to it), kept
  ``DOMAIN_KEEP_S`` after the last decision. The slow path's review writes it; the gateway
  reads it for the hosts a post links to (``gateway/behaviour.py``: domain reputation).
"""

from __future__ import annotations

from dataclasses import dataclass

STRIKES_KEEP_S = 400 * 86_400  # the longest strike window a policy may set
STRIKE_SOURCES = ("moderator", "llm", "auto")
DOMAIN_KEEP_S = 400 * 86_400
DOMAIN_HOSTS_MAX = 5  # hosts per post counted (and looked up)


@dataclass(frozen=True, slots=True)
class Strike:
    """One removal counted against an author."""

    post_id: str
    category: str
    source: str
    at: float


def strikes_key(prefix: str, author_id: str) -> str:
    return f"{prefix}strikes:{author_id}"


def domain_key(prefix: str, host: str) -> str:
    return f"{prefix}domain:{host}"


def post_hosts(hosts: list[str]) -> list[str]:
    """The distinct hosts (``www.`` dropped, in order) a post's links name, at most
    ``DOMAIN_HOSTS_MAX``: what domain reputation counts for one post."""
    out: list[str] = []
    for host in hosts:
        bare = host.lower().removeprefix("www.")
        if bare and bare not in out and " " not in bare:
            out.append(bare)
    return out[:DOMAIN_HOSTS_MAX]


def strike_member(post_id: str, category: str, source: str) -> str:
    return f"{post_id}|{category}|{source}"


def parse_strike(member: bytes | str, at: float) -> Strike | None:
    """The strike a ZSET member names (None for a malformed one). Post ids may hold ``|``."""
    text = member.decode(errors="replace") if isinstance(member, bytes) else member
    post_id, _, rest = text.rpartition("|")
    post_id, _, category = post_id.rpartition("|")
    if not post_id or not category or rest not in STRIKE_SOURCES:
        return None
    return Strike(post_id, category, rest, at)


def author_key(prefix: str, author_id: str) -> str:
    return f"{prefix}author:{author_id}"


def done_key(prefix: str, post_id: str) -> str:
    return f"{prefix}done:{post_id}"


def dead_letter_key(prefix: str, post_id: str) -> str:
    return f"{prefix}dead:{post_id}"
