"""The safe image decoder: every format decodes to the right RGB working copy, and every kind
of hostile input (bombs, truncation, polyglots, other formats, random corruption) is refused
with an ImageDecodeError, never another exception. Every file is made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import time
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from models.image_decode import (
    SUPPORTED_FORMATS,
    DecodeBudget,
    ImageDecodeError,
    decode_cost_bytes,
    decode_image,
    sniff_format,
)
from modgate.settings import ImageSettings
from modgate.types import DecodedImage

LIMITS = ImageSettings()
RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=PIL_FORMATS.get(fmt, fmt), **params)
    return buf.getvalue()


def solid(
    color: int | tuple[int, ...], size: tuple[int, int] = (40, 30), mode: str = "RGB"
) -> Image.Image:
    return Image.new(mode, size, color)


def noise(size: tuple[int, int] = (48, 32), seed: int = 0) -> Image.Image:
    values = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(values)


def pixels(decoded: DecodedImage) -> np.ndarray:
    return np.frombuffer(decoded.rgb, np.uint8).reshape(decoded.height, decoded.width, 3)


def mean_colour(decoded: DecodedImage) -> np.ndarray:
    return np.asarray(pixels(decoded).reshape(-1, 3).mean(axis=0))


def assert_colour(actual: np.ndarray, expected: tuple[int, int, int], tolerance: float) -> None:
    assert np.abs(actual.astype(float) - np.array(expected)).max() <= tolerance, actual


def refused(data: bytes, *, limits: ImageSettings = LIMITS, mime_type: str = "") -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, mime_type=mime_type, limits=limits)
    return str(info.value)


def png_with_size(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR claims ``width`` x ``height`` (CRC fixed up)."""
    data = bytearray(encode(solid(RED, (8, 8)), "png"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("payload.js", "alert(document.cookie)\n" * 20)
    return buf.getvalue()


def valid_samples() -> dict[str, bytes]:
    return {
        "jpeg": encode(noise(), "jpeg", quality=80),
        "png": encode(noise(), "png"),
        "gif": encode(noise().convert("P"), "gif"),
        "webp": encode(noise(), "webp", quality=80),
    }


# --- valid images ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("jpeg", {"quality": 90}, 8),
        ("png", {}, 0),
        ("webp", {"quality": 90}, 8),
        ("webp", {"lossless": True}, 0),
        ("gif", {}, 0),
    ],
)
def test_each_format_decodes(fmt: str, params: dict[str, object], tolerance: float) -> None:
    data = encode(solid(RED), fmt, **params)
    decoded = decode_image(data, limits=LIMITS)
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == (40, 30)
    assert (decoded.source_width, decoded.source_height) == (40, 30)
    assert decoded.sha256 == hashlib.sha256(data).hexdigest()
    assert len(decoded.rgb) == 40 * 30 * 3
    assert_colour(pixels(decoded).reshape(-1, 3).min(axis=0), (255, 0, 0), tolerance + 8)
    assert_colour(mean_colour(decoded), RED, tolerance)


def test_sniff_format() -> None:
    assert sniff_format(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff_format(b"\x89PNG\r\n\x1a\nrest") == "png"
    assert sniff_format(b"GIF87a....") == "gif"
    assert sniff_format(b"GIF89a....") == "gif"
    assert sniff_format(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_format(b"RIFF\x10\x00\x00\x00WAVEfmt ") is None
    assert sniff_format(b"") is None
    assert sniff_format(b"\x89PNG") is None
    assert sorted(SUPPORTED_FORMATS) == ["gif", "jpeg", "png", "webp"]


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_animation_decodes_first_frame(fmt: str) -> None:
    frames = [solid(RED), solid(BLUE), solid(WHITE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 3
    assert_colour(mean_colour(decode_image(data, limits=LIMITS)), RED, 10)


def test_rgba_png_transparent_pixels_become_white() -> None:
    im = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    im.paste((0, 0, 255, 0), (10, 0, 20, 10))  # right half: fully transparent blue
    rgb = pixels(decode_image(encode(im, "png"), limits=LIMITS))
    assert_colour(rgb[:, :10].reshape(-1, 3).mean(axis=0), RED, 0)
    assert_colour(rgb[:, 10:].reshape(-1, 3).mean(axis=0), WHITE, 0)


def test_half_transparent_webp_is_blended_over_white() -> None:
    data = encode(Image.new("RGBA", (16, 16), (0, 0, 0, 128)), "webp", lossless=True)
    assert_colour(mean_colour(decode_image(data, limits=LIMITS)), (127, 127, 127), 2)


def test_sixteen_bit_grayscale_png() -> None:
    im = Image.fromarray(np.full((12, 16), 40_000, dtype=np.uint16))
    data = encode(im, "png")
    assert (data[24], data[25]) == (16, 0)  # IHDR: 16-bit, grayscale
    decoded = decode_image(data, limits=LIMITS)
    assert (decoded.width, decoded.height) == (16, 12)
    assert_colour(mean_colour(decoded), (156, 156, 156), 1)  # 40000 / 256


def test_palette_png_with_transparency() -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 255, 0, 0, 0, 255] + [0] * 762)  # 0: green, 1: blue
    im.paste(1, (0, 0, 5, 10))
    rgb = pixels(decode_image(encode(im, "png", transparency=0), limits=LIMITS))
    assert_colour(rgb[:, :5].reshape(-1, 3).mean(axis=0), BLUE, 0)
    assert_colour(rgb[:, 5:].reshape(-1, 3).mean(axis=0), WHITE, 0)  # not green


def test_gif_transparency_becomes_white() -> None:
    im = Image.new("P", (10, 10), 1)
    im.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 10, 5))
    rgb = pixels(decode_image(encode(im, "gif", transparency=0), limits=LIMITS))
    assert_colour(rgb[:5].reshape(-1, 3).mean(axis=0), WHITE, 0)
    assert_colour(rgb[5:].reshape(-1, 3).mean(axis=0), RED, 0)


@pytest.mark.parametrize(("mode", "color"), [("L", 128), ("1", 1), ("LA", (128, 255))])
def test_other_png_modes(mode: str, color: int | tuple[int, int]) -> None:
    decoded = decode_image(encode(Image.new(mode, (9, 7), color), "png"), limits=LIMITS)
    value = 255 if mode == "1" else 128
    assert_colour(mean_colour(decoded), (value, value, value), 0)


def test_grayscale_and_cmyk_jpeg() -> None:
    gray = decode_image(encode(solid(100, mode="L"), "jpeg", quality=95), limits=LIMITS)
    assert_colour(mean_colour(gray), (100, 100, 100), 3)
    cmyk = encode(solid((0, 255, 255, 0), mode="CMYK"), "jpeg", quality=95)
    with Image.open(io.BytesIO(cmyk)) as check:
        assert check.mode == "CMYK"
    assert_colour(mean_colour(decode_image(cmyk, limits=LIMITS)), RED, 8)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_exif_orientation_6_rotates(fmt: str) -> None:
    im = Image.new("RGB", (40, 20), RED)
    im.paste(BLUE, (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    params: dict[str, object] = {"exif": exif.tobytes()}
    params |= {"lossless": True} if fmt == "webp" else {"quality": 95} if fmt == "jpeg" else {}
    decoded = decode_image(encode(im, fmt, **params), limits=LIMITS)
    assert (decoded.width, decoded.height) == (20, 40)
    assert (decoded.source_width, decoded.source_height) == (40, 20)
    rgb = pixels(decoded)
    assert_colour(rgb[:16].reshape(-1, 3).mean(axis=0), RED, 10)  # the left side is on top
    assert_colour(rgb[24:].reshape(-1, 3).mean(axis=0), BLUE, 10)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_is_ignored() -> None:
    data = encode(solid(RED), "jpeg", exif=b"Exif\x00\x00MM\x00*garbage")
    assert decode_image(data, limits=LIMITS).width == 40


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "gif"])
def test_large_image_is_downscaled_keeping_aspect(fmt: str) -> None:
    limits = ImageSettings(working_max_side=64)
    im = Image.new("RGB", (1000, 500), RED)
    im.paste(BLUE, (500, 0, 1000, 500))
    decoded = decode_image(encode(im, fmt), limits=limits)
    assert (decoded.width, decoded.height) == (64, 32)
    assert (decoded.source_width, decoded.source_height) == (1000, 500)
    rgb = pixels(decoded)
    assert_colour(rgb[:, :28].reshape(-1, 3).mean(axis=0), RED, 12)
    assert_colour(rgb[:, 36:].reshape(-1, 3).mean(axis=0), BLUE, 12)


def test_tall_jpeg_is_dct_scaled_then_downscaled() -> None:
    decoded = decode_image(encode(solid(RED, (300, 2400)), "jpeg"), limits=ImageSettings())
    assert (decoded.width, decoded.height) == (128, 1024)
    assert (decoded.source_width, decoded.source_height) == (300, 2400)


# --- mime hints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "hint", "expected"),
    [
        ("png", "image/jpeg", "mime_type says image/jpeg but the bytes are a PNG"),
        ("jpeg", "image/png", "mime_type says image/png but the bytes are a JPEG"),
        ("gif", "IMAGE/WEBP; q=1", "mime_type says image/webp but the bytes are a GIF"),
        ("webp", "image/pjpeg", "mime_type says image/pjpeg but the bytes are a WebP"),
    ],
)
def test_mime_hint_mismatch_refused(fmt: str, hint: str, expected: str) -> None:
    assert refused(encode(solid(RED), fmt), mime_type=hint) == expected


@pytest.mark.parametrize(
    ("fmt", "hint"),
    [
        ("png", ""),
        ("png", "application/octet-stream"),
        ("png", "image/*"),
        ("png", "Image/PNG; charset=binary"),
        ("jpeg", "image/jpg"),
        ("jpeg", "image/pjpeg"),
        ("gif", "image/gif"),
        ("webp", "text/plain"),
    ],
)
def test_matching_or_generic_hint_accepted(fmt: str, hint: str) -> None:
    assert decode_image(encode(solid(RED), fmt), mime_type=hint, limits=LIMITS).format == fmt


# --- corrupt and truncated ------------------------------------------------------------------

MAGICS = {
    "jpeg": b"\xff\xd8\xff",
    "png": b"\x89PNG\r\n\x1a\n",
    "gif": b"GIF89a",
    "webp": b"RIFF\x00\x00\x00\x00WEBP",
}


@pytest.mark.parametrize("fmt", sorted(MAGICS))
def test_magic_only_and_magic_plus_random_bytes_refused(fmt: str) -> None:
    assert refused(MAGICS[fmt]).startswith("truncated or corrupt")
    rng = np.random.default_rng(1)
    for _ in range(5):
        refused(MAGICS[fmt] + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "webp"])
@pytest.mark.parametrize("trailing_check", [True, False])
def test_truncated_files_refused(fmt: str, trailing_check: bool) -> None:
    data = valid_samples()[fmt]
    limits = ImageSettings(reject_trailing_data=trailing_check)
    decode_image(data, limits=limits)  # the whole file is fine
    cuts = [len(data) // 4, len(data) // 2, len(data) * 9 // 10]
    if trailing_check:  # without the end check a missing end marker alone may pass
        cuts += [len(data) - 1]
    for cut in cuts:
        message = refused(data[:cut], limits=limits)
        assert "truncated or corrupt" in message, (cut, message)


def test_truncated_messages_name_the_format() -> None:
    for fmt, data in valid_samples().items():
        name = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WebP"}[fmt]
        assert refused(data[: len(data) // 2]).startswith(f"truncated or corrupt {name}: ")


# --- decompression bombs --------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (9_000, 9_000)])
def test_huge_png_header_refused_before_decoding(width: int, height: int) -> None:
    start = time.perf_counter()
    message = refused(png_with_size(width, height))
    assert message == f"{width} x {height} = {width * height} pixels, over the limit of 40000000"
    assert time.perf_counter() - start < 0.1


def test_huge_gif_header_refused_before_decoding() -> None:
    data = bytearray(encode(solid(RED, (8, 8)).convert("P"), "gif"))
    data[6:10] = struct.pack("<HH", 60_000, 60_000)
    start = time.perf_counter()
    assert refused(bytes(data)) == "60000 x 60000 = 3600000000 pixels, over the limit of 40000000"
    assert time.perf_counter() - start < 0.1


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        (7_000, "7000 x 7000 = 49000000 pixels, over the limit of 40000000"),
        (20_000, "image size (400000000 pixels) exceeds limit of 178956970 pixels"),
    ],
)
def test_gif_frame_larger_than_screen_is_checked(side: int, expected: str) -> None:
    # Pillow grows the canvas to fit the first frame: the grown size is what is checked.
    data = bytearray(encode(solid(RED, (8, 8)).convert("P"), "gif"))
    descriptor = data.index(b"\x2c\x00\x00\x00\x00\x08\x00\x08\x00")
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", side, side)
    assert refused(bytes(data)).startswith(expected)


def test_huge_jpeg_and_webp_headers_refused() -> None:
    jpeg = bytearray(encode(solid(RED, (8, 8)), "jpeg"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 30_000, 30_000)
    assert refused(bytes(jpeg)).startswith("30000 x 30000 = 900000000 pixels")
    webp = bytearray(encode(solid(RED, (8, 8)), "webp", lossless=True))
    assert webp[12:16] == b"VP8L"
    webp[21:25] = struct.pack("<I", 16_000 - 1 | (16_000 - 1) << 14)
    assert refused(bytes(webp)).startswith("16000 x 16000 = 256000000 pixels")
    vp8x = bytearray(encode(Image.new("RGBA", (8, 8), (1, 2, 3, 4)), "webp"))
    assert vp8x[12:16] == b"VP8X"
    vp8x[24:30] = (9_999).to_bytes(3, "little") * 2
    assert refused(bytes(vp8x)).startswith("10000 x 10000 = 100000000 pixels")


def test_pillow_bomb_warning_refused_without_leaking_filters() -> None:
    # Above Pillow's MAX_IMAGE_PIXELS (89M) but within a generous configured limit.
    limits = ImageSettings(max_pixels=200_000_000)
    filters_before = list(warnings.filters)
    message = refused(png_with_size(10_000, 10_000), limits=limits)
    assert message.startswith("image size (100000000 pixels) exceeds limit of")
    assert message.endswith("(decompression bomb?)")
    assert warnings.filters == filters_before
    assert Image.MAX_IMAGE_PIXELS == 89_478_485


def test_small_pixel_limit_applies_to_pillow_size() -> None:
    limits = ImageSettings(max_pixels=100)
    assert refused(encode(solid(RED), "jpeg"), limits=limits) == (
        "40 x 30 = 1200 pixels, over the limit of 100"
    )


def test_long_strip_refused_by_max_side() -> None:
    assert refused(png_with_size(20_000, 1)) == (
        "20000 x 1: a side of 20000 pixels, over the limit of 16384"
    )
    strip = encode(solid(RED, (300, 1)), "png")
    assert "over the limit of 200" in refused(strip, limits=ImageSettings(max_side=200))


def test_zero_dimension_refused() -> None:
    assert refused(png_with_size(0, 10))


# --- polyglots and other formats ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "webp"])
def test_image_plus_zip_refused(fmt: str) -> None:
    data = encode(solid(RED), fmt)
    payload = zip_bytes()
    message = refused(data + payload)
    assert message in {
        f"{len(payload)} bytes after the end of the {name} image (polyglot file?)"
        for name in ("PNG", "JPEG", "GIF", "WebP")
    }
    with zipfile.ZipFile(io.BytesIO(data + payload)) as archive:  # it really is a zip too
        assert archive.namelist() == ["payload.js"]


def test_gif_with_script_after_trailer_refused() -> None:
    script = b"<script>alert(1)</script>"
    message = refused(encode(solid(RED), "gif") + script)
    assert message == f"{len(script)} bytes after the end of the GIF image (polyglot file?)"


def test_webp_with_extra_bytes_refused() -> None:
    assert refused(encode(solid(RED), "webp") + b"xyz") == (
        "3 bytes after the end of the WebP image (polyglot file?)"
    )


def test_jpeg_extra_bytes_after_eoi_refused() -> None:
    assert refused(encode(solid(RED), "jpeg") + b"\x00\x00") == (
        "2 bytes after the end of the JPEG image (polyglot file?)"
    )


def test_png_chunk_after_iend_and_bad_chunk_refused() -> None:
    data = encode(solid(RED), "png")
    assert "bytes after the end of the PNG image" in refused(data + data[8:33])
    broken = bytearray(data)
    broken[33:37] = b"\x7f\xff\xff\xff"  # first chunk after IHDR claims 2 GiB
    assert refused(bytes(broken)).startswith("truncated or corrupt PNG")


def test_gifar_style_header_with_javascript_refused() -> None:
    refused(b"GIF89a=1;alert(document.domain);//" + b" " * 64)
    refused(b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(1);")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        b"<html><body><script>alert(1)</script></body></html>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>',
        b"",
        b"\x00",
        zip_bytes(),
    ],
)
def test_non_images_refused(data: bytes) -> None:
    assert refused(data) == "not a JPEG, PNG, WebP or GIF image"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM", "TGA"])
def test_other_image_formats_refused(fmt: str) -> None:
    data = encode(solid(RED, (16, 16)), fmt)
    with Image.open(io.BytesIO(data)) as check:  # Pillow itself would open it
        assert check.format == fmt
    assert refused(data, mime_type="image/png") == "not a JPEG, PNG, WebP or GIF image"


def test_trailing_data_allowed_when_check_is_off() -> None:
    data = encode(solid(RED), "png") + zip_bytes()
    decoded = decode_image(data, limits=ImageSettings(reject_trailing_data=False))
    assert decoded.format == "png"
    assert decoded.sha256 == hashlib.sha256(data).hexdigest()


def test_concurrent_decoding_matches_sequential() -> None:
    inputs = [*valid_samples().values(), encode(solid(RED), "png") + b"junk"] * 8
    filters_before = list(warnings.filters)

    def outcome(data: bytes) -> str:
        try:
            return decode_image(data, limits=LIMITS).sha256
        except ImageDecodeError as exc:
            return f"refused: {exc}"

    expected = [outcome(data) for data in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(outcome, inputs)) == expected
    assert warnings.filters == filters_before


# --- fuzz-ish: only DecodedImage or ImageDecodeError ----------------------------------------


def mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        buf = np.frombuffer(data, np.uint8).copy()
        positions = rng.integers(0, len(buf), rng.integers(1, 6))
        buf[positions] = rng.integers(0, 256, len(positions), dtype=np.uint8)
        cut = len(buf) if rng.random() < 0.8 else int(rng.integers(1, len(buf)))
        out.append(buf[:cut].tobytes())
    return out


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "webp"])
def test_random_mutations_never_escape_as_other_errors(fmt: str) -> None:
    base = noise((16, 12), seed=3)
    data = encode(base.convert("P") if fmt == "gif" else base, fmt)
    limits = ImageSettings(max_pixels=250_000, max_side=2048, working_max_side=64)
    refusals: list[str] = []
    for mutated in mutations(data, 200, seed=len(fmt)):
        try:
            decoded = decode_image(mutated, limits=limits)
        except ImageDecodeError as exc:
            refusals.append(str(exc))
        else:
            assert len(decoded.rgb) == decoded.width * decoded.height * 3
            assert decoded.sha256 == hashlib.sha256(mutated).hexdigest()
    assert refusals
    assert all(refusals)  # every refusal says why


def test_decode_cost_is_full_size_for_png_and_scaled_for_jpeg() -> None:
    limits = ImageSettings(working_max_side=1024)
    png = encode(solid(WHITE, (4000, 3000)), "png")
    jpeg = encode(solid(WHITE, (4000, 3000)), "jpeg")
    assert decode_cost_bytes(png, limits) == 4000 * 3000 * 4
    assert decode_cost_bytes(jpeg, limits) == 2048 * 2048 * 3  # DCT-scaled while decoding
    assert decode_cost_bytes(b"not an image", limits) == limits.max_pixels * 4


def test_the_decode_budget_never_holds_more_than_its_limit_at_once() -> None:
    budget = DecodeBudget(100)
    costs = [60, 30, 50, 10, 250, 40, 70]  # 250 is over the whole limit: runs alone

    def work(cost: int) -> None:
        with budget.reserve(cost):
            time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(c,)) for c in costs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert budget.peak <= 100
    assert budget.in_use == 0
