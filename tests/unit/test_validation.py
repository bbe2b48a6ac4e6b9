"""Request validation and strict wire decoding: every rejection names the offending field."""

from __future__ import annotations

import pytest

from gateway.validation import validate_batch, validate_request
from gateway.wire import decode
from modgate.errors import BadInputError
from modgate.pb import moderation_pb2 as pb
from modgate.settings import GatewaySettings

LIMITS = GatewaySettings.model_construct(
    **{
        name: field.default
        for name, field in GatewaySettings.model_fields.items()
        if field.default is not None
    }
)


def _req(**kwargs: object) -> pb.ModerateRequest:
    base: dict[str, object] = {"post_id": "p1", "text": "hello"}
    base.update(kwargs)
    return pb.ModerateRequest(**base)  # type: ignore[arg-type]


def test_valid_request_becomes_post_with_unknown_author_fields_as_none() -> None:
    post = validate_request(_req(author=pb.Author(id="a1", followers=10)), LIMITS)
    assert post.author.followers == 10
    assert post.author.account_age_days is None
    assert post.author.prior_violations is None


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"post_id": ""}, "post_id"),
        ({"post_id": "x" * 300}, "post_id"),
        ({"text": "a" * 10_001}, "text"),
        ({"text": "   "}, "text"),
        ({"images": [pb.Image(data=b"x")] * 5}, "images"),
        ({"images": [pb.Image(data=b"")]}, "images[0].data"),
        (
            {"images": [pb.Image(data=b"x"), pb.Image(data=b"x" * (5 * 1024 * 1024 + 1))]},
            "images[1].data",
        ),
        ({"author": pb.Author(followers=-1)}, "author.followers"),
        ({"author": pb.Author(account_age_days=float("nan"))}, "author.account_age_days"),
        ({"author": pb.Author(posts_last_hour=-2.0)}, "author.posts_last_hour"),
        ({"region": "not a region!"}, "region"),
        ({"language_hint": "english please"}, "language_hint"),
        ({"client_metadata": {str(i): "v" for i in range(40)}}, "client_metadata"),
    ],
)
def test_bad_request_names_the_field(request_kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(BadInputError) as info:
        validate_request(_req(**request_kwargs), LIMITS)
    assert info.value.field == field


def test_image_only_post_is_valid() -> None:
    post = validate_request(_req(text="", images=[pb.Image(data=b"\x89PNG")]), LIMITS)
    assert len(post.images) == 1


def test_batch_prefixes_field_paths_and_rejects_duplicates() -> None:
    with pytest.raises(BadInputError) as info:
        validate_batch(pb.ModerateBatchRequest(posts=[_req(), _req(post_id="p2", text="")]), LIMITS)
    assert info.value.field == "posts[1].text"
    with pytest.raises(BadInputError) as info:
        validate_batch(pb.ModerateBatchRequest(posts=[_req(), _req()]), LIMITS)
    assert info.value.field == "posts[1].post_id"
    with pytest.raises(BadInputError, match="empty batch"):
        validate_batch(pb.ModerateBatchRequest(), LIMITS)


def _serialized(**kwargs: object) -> bytes:
    return _req(**kwargs).SerializeToString()


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (_serialized(text="hello").replace(b"hello", b"hel\xffo"), "text", "invalid UTF-8"),
        (
            _serialized(author=pb.Author(id="zz")).replace(b"zz", b"\xfe\xfe"),
            "author.id",
            "invalid UTF-8",
        ),
        (_serialized(region="DE").replace(b"DE", b"\xc3("), "region", "invalid UTF-8"),
        (_serialized(text="hello")[:-2], "text", "malformed"),
        (_serialized() + b"\xa0\x06\x01", "#100", "unknown field"),
        (b"\xff\xff\xff\xff", "request", "malformed"),
    ],
)
def test_undecodable_bytes_name_the_field(data: bytes, field: str, problem: str) -> None:
    with pytest.raises(BadInputError) as info:
        decode(pb.ModerateRequest, data)
    assert info.value.field == field
    assert problem in info.value.message


def test_wrong_wire_type_for_known_field_names_it() -> None:
    author = b"\x1a\x03abc"  # followers (an int64) sent as a string
    data = b"\x0a\x02p1" + b"\x12" + bytes([len(author)]) + author
    with pytest.raises(BadInputError) as info:
        decode(pb.ModerateRequest, data)
    assert info.value.field == "author.followers"
    assert "wrong type" in info.value.message
    with pytest.raises(BadInputError) as info:
        decode(pb.ModerateRequest, b"\x0a\x02p1\x18\x05")  # text sent as a number
    assert info.value.field == "text"


def test_unknown_field_inside_nested_message_is_named() -> None:
    author = pb.Author(id="a").SerializeToString() + b"\xa0\x06\x01"
    data = b"\x0a\x02p1" + b"\x12" + bytes([len(author)]) + author
    with pytest.raises(BadInputError) as info:
        decode(pb.ModerateRequest, data)
    assert info.value.field == "author.#100"
