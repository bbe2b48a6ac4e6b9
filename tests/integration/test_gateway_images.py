"""Images through the real gateway over gRPC, with the shipped models and the image stages
``load_classifiers`` builds from settings (Open NSFW, rapidocr → text model, PDQ hash bank):
text inside photos raises toxicity, clean photos stay clean, malformed images are refused
one after another while the server keeps serving, and a re-encoded, resized copy of a banked
image is removed naming its bank entry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from PIL import Image

from gateway.server import load_classifiers
from models.hashbank import BankEntry, HashBank, pdq_hash
from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import GatewaySettings
from tests.images import encode, photo, with_caption
from tests.integration.conftest import StartGateway, text_classifier

pytestmark = pytest.mark.integration

TOXIC_CAPTION = "you are a stupid bitch"
CLEAN_CAPTION = "have a lovely sunday everyone"


async def _gateway(start_gateway: StartGateway, **overrides: Any) -> pb_grpc.ModerationStub:
    settings = GatewaySettings(port=0, metrics_port=0, **overrides)
    _, stub = await start_gateway(load_classifiers(settings), **overrides)
    return stub


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    return tmp_path / "bank.jsonl"


@pytest.fixture
async def stub(start_gateway: StartGateway, bank_path: Path) -> pb_grpc.ModerationStub:
    # A generous deadline: these tests check what OCR reads, not how fast (bench/ does that).
    return await _gateway(
        start_gateway, deadline_ms=10_000, hashbank={"path": bank_path, "reload_s": 0.05}
    )


async def moderate(stub: pb_grpc.ModerationStub, *images: bytes, text: str = "") -> pb.Verdict:
    request = pb.ModerateRequest(
        post_id="p", text=text, images=[pb.Image(data=data) for data in images]
    )
    verdict: pb.Verdict = await stub.Moderate(request, timeout=15)
    return verdict


async def test_toxic_text_inside_a_photo_raises_toxicity(stub: pb_grpc.ModerationStub) -> None:
    meme = encode(with_caption(photo("astronaut"), TOXIC_CAPTION), quality=85)
    verdict = await moderate(stub, meme)
    assert verdict.ocr == "done"
    # OCR read the caption: the image scores what the caption scores as post text.
    [as_text] = text_classifier().model.score([TOXIC_CAPTION])
    assert abs(verdict.scores["toxicity"] - float(as_text[0])) < 0.05, dict(verdict.scores)
    assert verdict.scores["toxicity"] >= 0.6
    assert verdict.action != pb.ALLOW
    assert any(code.startswith("toxicity.") for code in verdict.reason_codes)
    assert {m.name for m in verdict.models} >= {"nsfw", "ocr", "hashbank"}
    assert not verdict.degraded


async def test_clean_photos_stay_clean(stub: pb_grpc.ModerationStub) -> None:
    for image in (
        encode(photo("coffee")),
        encode(photo("chelsea"), "PNG"),
        encode(with_caption(photo("rocket"), CLEAN_CAPTION), "WEBP", quality=90),
    ):
        verdict = await moderate(stub, image, text="look at this")
        assert verdict.action == pb.ALLOW, (verdict.reason_codes, dict(verdict.scores))
        assert verdict.ocr == "done"
        assert verdict.scores["nsfw"] < 0.2
        assert verdict.scores["known_media"] == 0.0
        assert verdict.scores["toxicity"] < 0.6


def _malformed() -> dict[str, bytes]:
    good_png = encode(photo("coffee").resize((64, 48)), "PNG")
    huge = bytearray(encode(Image.new("RGB", (8, 8)), "PNG"))
    huge[16:24] = (60_000).to_bytes(4, "big") + (60_000).to_bytes(4, "big")  # IHDR w, h
    import zlib

    huge[29:33] = zlib.crc32(bytes(huge[12:29])).to_bytes(4, "big")
    zip_tail = (
        b"PK\x03\x04" + b"\x00" * 26 + b"payload.js" + b"alert(1)" + b"PK\x05\x06" + b"\0" * 18
    )
    return {
        "random bytes": bytes(range(256)) * 4,
        "corrupt jpeg": b"\xff\xd8\xff\xe0" + b"\x13" * 600 + b"\xff\xd9",
        "truncated png": good_png[: len(good_png) // 2],
        "huge dimensions": bytes(huge),
        "polyglot png+zip": good_png + zip_tail,
        "gif header + script": b"GIF89a/*\x00\x00*/=alert(document.domain);//\x3b",
        "bmp (unsupported)": encode(Image.new("RGB", (8, 8)), "BMP"),
        "html": b"<html><script>alert(1)</script></html>",
    }


async def test_malformed_images_are_refused_and_the_server_keeps_serving(
    stub: pb_grpc.ModerationStub,
) -> None:
    for name, data in _malformed().items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await moderate(stub, encode(photo("coffee").resize((32, 32))), data, text="hi")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert "images[1].data" in (caught.value.details() or ""), (name, caught.value.details())
    batch = pb.ModerateBatchRequest(
        posts=[
            pb.ModerateRequest(post_id="a", text="fine"),
            pb.ModerateRequest(post_id="b", images=[pb.Image(data=_malformed()["html"])]),
        ]
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModerateBatch(batch, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "posts[1].images[0].data" in (caught.value.details() or "")
    verdict = await moderate(stub, encode(photo("coffee")), text="still here?")
    assert verdict.action == pb.ALLOW


async def test_a_resized_reencoded_copy_matches_its_bank_entry(
    stub: pb_grpc.ModerationStub, bank_path: Path
) -> None:
    import numpy as np

    original = photo("astronaut")
    digest, quality = pdq_hash(np.asarray(original))
    HashBank(bank_path).add(BankEntry(id="case-4711", hash=digest, label="test", quality=quality))
    copy = encode(original.resize((300, 300)), quality=55)
    # The gateway re-reads a changed bank in the background (checked every reload_s).
    for _ in range(50):
        await asyncio.sleep(0.1)
        verdict = await moderate(stub, copy)
        if verdict.action == pb.REMOVE:
            break
    assert verdict.action == pb.REMOVE
    assert "known_media.entry.case-4711" in verdict.reason_codes
    assert verdict.scores["known_media"] == 1.0
    unrelated = await moderate(stub, encode(photo("chelsea")))
    assert not any(code.startswith("known_media.entry") for code in unrelated.reason_codes)
    assert unrelated.scores["known_media"] == 0.0


async def test_ocr_without_budget_is_skipped_and_deferred(
    start_gateway: StartGateway,
) -> None:
    stub = await _gateway(start_gateway, ocr={"min_budget_ms": 60_000}, hashbank={"enabled": False})
    verdict = await moderate(stub, encode(with_caption(photo("coffee"), TOXIC_CAPTION)))
    assert verdict.ocr == "skipped_budget"
    assert verdict.action == pb.DEFER
    assert "ocr.unread" in verdict.reason_codes
    assert "toxicity" not in verdict.scores  # no post text, image text unread


async def test_ocr_left_to_the_slow_path_is_reported_deferred(
    start_gateway: StartGateway,
) -> None:
    stub = await _gateway(start_gateway, ocr={"mode": "slowpath"}, hashbank={"enabled": False})
    verdict = await moderate(stub, encode(photo("coffee")), text="nice coffee")
    assert verdict.ocr == "deferred"
    assert verdict.action == pb.DEFER
    assert "ocr.unread" in verdict.reason_codes
    text_only = await moderate(stub, text="nice coffee")
    assert text_only.ocr == ""
    assert text_only.action == pb.ALLOW


async def test_images_not_decoded_in_time_defer_the_post_degraded_not_blame_the_client(
    start_gateway: StartGateway,
) -> None:
    """Running out of decode time is the server's trouble: the verdict is a degraded DEFER
    naming the undecoded images, never INVALID_ARGUMENT; a later call still decodes."""
    # ~5 MB, about 0.2 s to decode at full size (PNG has no reduced-size decode).
    big_png = encode(photo("astronaut").resize((2500, 2500)), "PNG", compress_level=1)
    stub = await _gateway(
        start_gateway, deadline_ms=10_000, images={"decode_timeout_ms": 5, "decode_workers": 1}
    )
    verdict = await moderate(stub, big_png, text="holiday pictures")
    assert verdict.action == pb.DEFER
    assert verdict.degraded
    assert "image_decode: timeout" in verdict.missing_reasons
    assert "images.undecoded" in verdict.reason_codes
    small = encode(photo("coffee").resize((160, 120)), quality=85)
    await asyncio.sleep(0.6)  # the big decode finishes in the background meanwhile
    again = await moderate(stub, small, text="a coffee")
    assert "images.undecoded" not in again.reason_codes
