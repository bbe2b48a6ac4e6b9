"""Domain types shared by every room: posts in, scores and verdicts out.

Plain frozen dataclasses (slots) rather than pydantic models: they sit on the hot path,
are built from already-validated protobuf messages, and need no parsing of their own.
Categories are strings (``"spam"``, ``"toxicity"``, ``"hate"``…) because the label set is
configuration: a classifier declares the categories it scores and the policy names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

Category = str
"""A moderation category name: lower snake case, e.g. ``"spam"`` or ``"self_harm"``."""

CATEGORY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

SPAM: Category = "spam"
TOXICITY: Category = "toxicity"
INSULT: Category = "insult"
THREAT: Category = "threat"
HATE: Category = "hate"
SEXUAL: Category = "sexual"
SELF_HARM: Category = "self_harm"
NSFW: Category = "nsfw"
KNOWN_MEDIA: Category = "known_media"


class Action(StrEnum):
    """What the post service should do with a post. Ordered by severity."""

    ALLOW = "allow"
    DEFER = "defer"  # allow for now and queue for review
    REMOVE = "remove"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.DEFER: 1, Action.REMOVE: 2}


def most_severe(actions: list[Action]) -> Action:
    """The most severe of ``actions`` (ALLOW for an empty list)."""
    return max(actions, key=_SEVERITY.__getitem__, default=Action.ALLOW)


@dataclass(frozen=True, slots=True)
class Author:
    """What is known about a post's author; ``None`` means unknown, never zero."""

    id: str = ""
    account_age_days: float | None = None
    followers: int | None = None
    prior_violations: int | None = None
    posts_last_hour: float | None = None


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image after safe decoding: the working copy every image model, OCR and the hash
    matcher read. ``rgb`` is ``height x width x 3`` uint8, row-major (``numpy.frombuffer``
    views it without a copy); it is the source image with EXIF orientation applied,
    transparency composited onto white and, when the source is larger than the configured
    working size, downscaled (aspect kept)."""

    width: int
    height: int
    rgb: bytes
    format: str  # "jpeg" | "png" | "webp" | "gif" (sniffed from the bytes, never the hint)
    sha256: str  # hex digest of the original bytes: the cache key for every image result
    source_width: int
    source_height: int


@dataclass(frozen=True, slots=True)
class Image:
    """An image as inline bytes (modgate never fetches URLs); ``decoded`` is filled in by
    the gateway's decoder before any model sees the post."""

    data: bytes
    mime_type: str = ""
    decoded: DecodedImage | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """A validated post, as classifiers and the policy see it."""

    post_id: str
    text: str = ""
    images: tuple[Image, ...] = ()
    author: Author = field(default_factory=Author)
    region: str = ""
    language_hint: str = ""
    client_metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


Scores = Mapping[Category, float]
"""Category -> probability in [0, 1], as one model produced them for one post."""


def max_scores(*sources: Scores) -> dict[Category, float]:
    """Category-wise maximum of several score maps: when two sources score one category
    (a post's text and the text inside its images), the higher score counts."""
    merged: dict[Category, float] = {}
    for scores in sources:
        for category, value in scores.items():
            merged[category] = max(value, merged.get(category, 0.0))
    return merged


FeatureValue = float | int | str | bool | None
Features = Mapping[str, FeatureValue]
"""Named request features the policy may read (region, language, author counters…)."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Reason:
    """One policy rule that fired: a stable code plus what was compared."""

    code: str
    action: Action
    category: Category = ""
    score: float | None = None
    threshold: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's decision for one post (the gateway adds ids and latency on the wire)."""

    action: Action
    scores: Scores
    reasons: tuple[Reason, ...]
    policy_version: str
    missing_categories: tuple[Category, ...] = ()
    spike_mode: bool = False

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)
