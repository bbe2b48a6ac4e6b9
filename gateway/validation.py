"""Request validation: protobuf message -> domain ``Post``, or BadInputError naming the field.

Limits come from settings (text length, image count and bytes, id and metadata sizes). A
post must carry text or at least one image. Author counters must be finite and >= 0; absent
optional fields stay ``None`` (unknown), never zero. Image *content* (format, pixel bombs)
is checked by the image decoder, not here.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType

from modgate.errors import BadInputError
from modgate.pb import moderation_pb2 as pb
from modgate.settings import GatewaySettings
from modgate.types import Author, Image, Post

_REGION = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$")


def validate_request(
    request: pb.ModerateRequest, limits: GatewaySettings, prefix: str = ""
) -> Post:
    """The domain post for ``request``; ``prefix`` prepends field paths (``posts[3].``)."""
    post_id = _bounded(request.post_id, limits.max_id_chars, f"{prefix}post_id")
    if not post_id:
        raise BadInputError(f"{prefix}post_id", "required")
    if len(request.text) > limits.max_text_chars:
        raise BadInputError(
            f"{prefix}text",
            f"{len(request.text)} characters, over the limit of {limits.max_text_chars}",
        )
    images = _images(request, limits, prefix)
    if not request.text.strip() and not images:
        raise BadInputError(f"{prefix}text", "empty post: no text and no images")
    return Post(
        post_id=post_id,
        text=request.text,
        images=images,
        author=_author(request, limits, prefix) if request.HasField("author") else Author(),
        region=_pattern(
            request.region, _REGION, f"{prefix}region", "a region code like 'DE' or 'EU'"
        ),
        language_hint=_pattern(
            request.language_hint, _LANGUAGE, f"{prefix}language_hint", "a BCP-47 tag like 'de-AT'"
        ),
        client_metadata=_metadata(request, limits, prefix),
    )


def validate_batch(request: pb.ModerateBatchRequest, limits: GatewaySettings) -> list[Post]:
    if not request.posts:
        raise BadInputError("posts", "empty batch")
    if len(request.posts) > limits.max_batch_posts:
        raise BadInputError(
            "posts", f"{len(request.posts)} posts, over the limit of {limits.max_batch_posts}"
        )
    posts = [validate_request(p, limits, f"posts[{i}].") for i, p in enumerate(request.posts)]
    seen: set[str] = set()
    for i, post in enumerate(posts):
        if post.post_id in seen:
            raise BadInputError(
                f"posts[{i}].post_id", f"duplicate post_id {post.post_id!r} in batch"
            )
        seen.add(post.post_id)
    return posts


def _bounded(value: str, limit: int, field: str) -> str:
    if len(value) > limit:
        raise BadInputError(field, f"{len(value)} characters, over the limit of {limit}")
    return value


def _pattern(value: str, pattern: re.Pattern[str], field: str, expected: str) -> str:
    if value and not pattern.match(value):
        raise BadInputError(field, f"{value[:40]!r} is not {expected}")
    return value


def _images(request: pb.ModerateRequest, limits: GatewaySettings, prefix: str) -> tuple[Image, ...]:
    if len(request.images) > limits.max_images:
        raise BadInputError(
            f"{prefix}images",
            f"{len(request.images)} images, over the limit of {limits.max_images}",
        )
    images = []
    for i, image in enumerate(request.images):
        field = f"{prefix}images[{i}].data"
        if not image.data:
            raise BadInputError(field, "empty image")
        if len(image.data) > limits.max_image_bytes:
            raise BadInputError(
                field, f"{len(image.data)} bytes, over the limit of {limits.max_image_bytes}"
            )
        mime = _bounded(image.mime_type, 64, f"{prefix}images[{i}].mime_type")
        images.append(Image(data=image.data, mime_type=mime))
    return tuple(images)


def _author(request: pb.ModerateRequest, limits: GatewaySettings, prefix: str) -> Author:
    a = request.author
    base = f"{prefix}author."
    return Author(
        id=_bounded(a.id, limits.max_id_chars, f"{base}id"),
        account_age_days=_non_negative(a, "account_age_days", base),
        followers=_non_negative_int(a, "followers", base),
        prior_violations=_non_negative_int(a, "prior_violations", base),
        posts_last_hour=_non_negative(a, "posts_last_hour", base),
    )


def _non_negative(author: pb.Author, name: str, base: str) -> float | None:
    if not author.HasField(name):
        return None
    value = float(getattr(author, name))
    if not math.isfinite(value) or value < 0:
        raise BadInputError(f"{base}{name}", f"must be a finite number >= 0, got {value}")
    return value


def _non_negative_int(author: pb.Author, name: str, base: str) -> int | None:
    if not author.HasField(name):
        return None
    value = int(getattr(author, name))
    if value < 0:
        raise BadInputError(f"{base}{name}", f"must be >= 0, got {value}")
    return value


def _metadata(
    request: pb.ModerateRequest, limits: GatewaySettings, prefix: str
) -> MappingProxyType[str, str]:
    meta = request.client_metadata
    if len(meta) > limits.max_metadata_entries:
        raise BadInputError(
            f"{prefix}client_metadata",
            f"{len(meta)} entries, over the limit of {limits.max_metadata_entries}",
        )
    for key, value in meta.items():
        _bounded(key, 128, f"{prefix}client_metadata[{key[:40]!r}]")
        _bounded(value, limits.max_metadata_value_chars, f"{prefix}client_metadata[{key[:40]!r}]")
    return MappingProxyType(dict(meta))
