"""A minimal client for the Moderation service (used by ``modgate moderate`` and the tests).

The post service would use the generated stub (``modgate.pb.moderation_pb2_grpc``) directly;
this wraps it with request building from plain values and a per-call deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc


def build_request(
    *,
    post_id: str,
    text: str = "",
    image_paths: Sequence[Path] = (),
    region: str = "",
    language_hint: str = "",
    author_id: str = "",
    followers: int | None = None,
    account_age_days: float | None = None,
    prior_violations: int | None = None,
) -> pb.ModerateRequest:
    author = pb.Author(id=author_id)
    if followers is not None:
        author.followers = followers
    if account_age_days is not None:
        author.account_age_days = account_age_days
    if prior_violations is not None:
        author.prior_violations = prior_violations
    return pb.ModerateRequest(
        post_id=post_id,
        text=text,
        images=[pb.Image(data=p.read_bytes()) for p in image_paths],
        region=region,
        language_hint=language_hint,
        author=author,
    )


async def moderate(target: str, request: pb.ModerateRequest, *, timeout_s: float) -> pb.Verdict:
    """One Moderate call; raises grpc.aio.AioRpcError on a non-OK status."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ModerationStub(channel)  # type: ignore[no-untyped-call]
        verdict: pb.Verdict = await stub.Moderate(request, timeout=timeout_s)
        return verdict
