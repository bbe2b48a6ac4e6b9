"""Slow-path errors. ``SlowpathError`` is the root; leaves say what happened."""

from __future__ import annotations

from modgate.errors import ModgateError


class SlowpathError(ModgateError):
    """Root of every error the slow path raises on purpose."""


class QueueUnavailableError(SlowpathError):
    """Redis (the moderator queue) cannot be reached or answered too late: transient."""


class ItemNotFoundError(SlowpathError):
    """No queue item with this post id."""

    def __init__(self, post_id: str) -> None:
        super().__init__(f"no review item for post {post_id!r}")
        self.post_id = post_id


class LeaseError(SlowpathError):
    """The moderator does not hold a live lease on the item (expired, or someone else's)."""

    def __init__(self, post_id: str, moderator_id: str, detail: str) -> None:
        super().__init__(f"post {post_id!r}: moderator {moderator_id!r} {detail}")
        self.post_id = post_id
        self.moderator_id = moderator_id
