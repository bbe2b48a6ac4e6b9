"""Safe decoding of inline images: untrusted bytes in, a small RGB working copy out.

Every image a post carries passes through :func:`decode_image` before any model, OCR or hash
matcher sees it. The bytes are attacker-controlled, so the decoder is deliberately narrow:

* **Format from the bytes**: magic bytes pick JPEG, PNG, WebP or GIF, and Pillow opens the
  file with that one plugin (no steering into rarely fuzzed decoders). A ``mime_type`` naming
  a *different* supported format is refused; other hints (empty, ``image/*``…) are ignored.
* **Decompression bombs**: width x height and the longest side are checked before a pixel is
  decoded, first from our own minimal header parse (before Pillow: libwebp allocates the
  whole canvas while parsing), then from the size Pillow reads (a GIF canvas grows to fit its
  first frame). Pillow's own bomb warning and error are refused too.
* **Truncation and corruption**: ``LOAD_TRUNCATED_IMAGES`` stays off, and every Pillow
  failure becomes an :class:`ImageDecodeError`, never another exception type.
* **Polyglots** (image + ZIP/HTML/script), with ``reject_trailing_data``: bytes after the real
  end are refused. PNG chunks are walked to ``IEND``, GIF blocks to the trailer, the WebP RIFF
  size must match the length, and a JPEG must end with the ``FF D9`` end-of-image marker
  (intentionally simple: trailing data that itself ends in ``FF D9`` passes, zero padding
  after EOI is refused).
* **A bounded working copy**: first frame only, EXIF orientation applied, transparency
  composited onto white, downscaled to ``working_max_side`` (large JPEGs are DCT-scaled by
  libjpeg while decoding, which is cheap).

Pure, synchronous and thread-safe. The one shared object is a lock around ``Image.open``:
``warnings.catch_warnings`` swaps process-wide filters, so decoder threads take turns in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import threading
import warnings
from collections.abc import Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from modgate.settings import ImageSettings
from modgate.types import DecodedImage

SUPPORTED_FORMATS: frozenset[str] = frozenset({"jpeg", "png", "webp", "gif"})

_PIL_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
_DISPLAY_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}
_MIME_FORMATS = {"image/jpg": "jpeg", "image/pjpeg": "jpeg"} | {
    f"image/{fmt}": fmt for fmt in ("jpeg", "png", "webp", "gif")
}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_EOI = b"\xff\xd9"
# What Pillow's parsers and decoders raise on hostile input (UnidentifiedImageError is an
# OSError; plugin parsers also leak IndexError/KeyError/TypeError on fuzzed headers).
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_PARSE_ERRORS = (SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError)
_PILLOW_ERRORS = (
    OSError,
    ValueError,
    OverflowError,
    ZeroDivisionError,
    *_PARSE_ERRORS,
    *_BOMB_ERRORS,
)
_OPEN_LOCK = threading.Lock()


class ImageDecodeError(ValueError):
    """Why an image was refused. The message is shown to the API caller, who adds the field
    name (``images[i].data``): short, specific, starting lowercase."""


def sniff_format(data: bytes) -> str | None:
    """The supported format ``data`` is, from its magic bytes alone; ``None`` if none."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_image(data: bytes, *, mime_type: str = "", limits: ImageSettings) -> DecodedImage:
    """Decode ``data`` into the RGB working copy, or raise :class:`ImageDecodeError`."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageDecodeError("not a JPEG, PNG, WebP or GIF image")
    name = _DISPLAY_NAMES[fmt]
    hint = mime_type.split(";", 1)[0].strip().lower()
    claimed = _MIME_FORMATS.get(hint)
    if claimed is not None and claimed != fmt:
        raise ImageDecodeError(f"mime_type says {hint} but the bytes are a {name}")
    if (header_size := _header_size(data, fmt)) is not None:
        _check_dimensions(*header_size, limits)
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_PIL_NAMES[fmt]])
    except _PILLOW_ERRORS as exc:
        raise _corrupt(name, exc) from exc
    with im:
        source_width, source_height = im.size
        if source_width <= 0 or source_height <= 0:
            raise ImageDecodeError(f"invalid dimensions {source_width} x {source_height}")
        _check_dimensions(source_width, source_height, limits)
        try:
            if fmt in ("gif", "webp"):
                im.seek(0)
            if fmt == "jpeg":
                _draft(im, limits.working_max_side)
            im.load()
        except _PILLOW_ERRORS as exc:
            raise _corrupt(name, exc) from exc
        if limits.reject_trailing_data:
            _check_end(data, fmt)
        if fmt != "gif":
            # Broken EXIF is common and harmless: keep the stored orientation.
            with contextlib.suppress(*_PILLOW_ERRORS):
                ImageOps.exif_transpose(im, in_place=True)
        try:
            rgb = _working_copy(im, limits.working_max_side)
        except _PILLOW_ERRORS as exc:
            raise _corrupt(name, exc) from exc
    return DecodedImage(
        width=rgb.width,
        height=rgb.height,
        rgb=rgb.tobytes(),
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        source_width=source_width,
        source_height=source_height,
    )


def decode_cost_bytes(data: bytes, limits: ImageSettings) -> int:
    """About how much memory decoding ``data`` takes at its peak, from the header alone: a
    JPEG is DCT-scaled while decoding to at most twice the working side (RGB); the other
    formats decode at full size (RGBA at worst). Unknown sizes count as the pixel limit."""
    fmt = sniff_format(data)
    size = _header_size(data, fmt) if fmt is not None else None
    pixels = min(size[0] * size[1], limits.max_pixels) if size else limits.max_pixels
    if fmt == "jpeg":
        return min(pixels, (2 * limits.working_max_side) ** 2) * 3
    return pixels * 4


class DecodeBudget:
    """Memory for decodes running at once, across threads: ``reserve(cost)`` blocks until
    ``cost`` fits under ``limit_bytes`` (a cost above the whole limit waits to run alone)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.in_use = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        cost = min(cost, self.limit_bytes)
        with self._cond:
            self._cond.wait_for(lambda: self.in_use + cost <= self.limit_bytes)
            self.in_use += cost
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= cost
                self._cond.notify_all()


def _corrupt(name: str, exc: BaseException) -> ImageDecodeError:
    if isinstance(exc, _BOMB_ERRORS):
        # Pillow: "Image size (N pixels) exceeds limit of M pixels, could be ... attack."
        reason = str(exc).split(",", 1)[0]
        return ImageDecodeError(f"{reason[:1].lower()}{reason[1:]} (decompression bomb?)")
    if isinstance(exc, UnidentifiedImageError):
        reason = "unreadable header"  # Pillow's message names the BytesIO object
    else:
        lines = str(exc).strip().splitlines()
        reason = lines[0][:120] if lines else type(exc).__name__
    return ImageDecodeError(f"truncated or corrupt {name}: {reason}")


def _check_dimensions(width: int, height: int, limits: ImageSettings) -> None:
    if width * height > limits.max_pixels:
        raise ImageDecodeError(
            f"{width} x {height} = {width * height} pixels, over the limit of {limits.max_pixels}"
        )
    if max(width, height) > limits.max_side:
        raise ImageDecodeError(
            f"{width} x {height}: a side of {max(width, height)} pixels, "
            f"over the limit of {limits.max_side}"
        )


def _header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) as the header states it, or ``None`` where not found at once."""
    if fmt == "png" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if fmt == "gif" and len(data) >= 10:  # logical screen (Pillow grows it to fit frame 0)
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if fmt == "webp" and len(data) >= 30:
        le = int.from_bytes
        if data[12:16] == b"VP8X":  # canvas size, 24 bits each, minus one
            return 1 + le(data[24:27], "little"), 1 + le(data[27:30], "little")
        if data[12:16] == b"VP8L":  # 14 bits each, minus one
            bits = le(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF)
        if data[12:16] == b"VP8 ":  # 14 bits each after the key frame start code
            return le(data[26:28], "little") & 0x3FFF, le(data[28:30], "little") & 0x3FFF
    if fmt == "jpeg":  # the first SOFn segment, walking segment lengths from SOI
        pos = 2
        while pos + 9 <= len(data) and data[pos] == 0xFF:
            marker = data[pos + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack_from(">HH", data, pos + 5)
                return int(width), int(height)
            pos += 1 if marker == 0xFF else 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _draft(im: Image.Image, side: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below the working size."""
    width, height = im.size
    longest = max(width, height)
    if longest > side:
        im.draft("RGB", (max(1, width * side // longest), max(1, height * side // longest)))


def _working_copy(im: Image.Image, side: int) -> Image.Image:
    """``im`` as opaque RGB (alpha over white), downscaled to at most ``side`` x ``side``."""
    if im.mode.startswith("I;16"):
        im = im.convert("I")
    if im.mode in ("I", "F"):  # 16-bit samples: scale 0..65535 to 0..255
        im = im.point(lambda value: value / 256).convert("L")
    alpha = im.has_transparency_data
    target = "RGBA" if alpha else "RGB"
    if im.mode != target:
        im = im.convert(target)
    if max(im.size) > side:
        im.thumbnail((side, side), Image.Resampling.BILINEAR)
    if alpha:
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im).convert("RGB")
    return im


def _check_end(data: bytes, fmt: str) -> None:
    """Refuse bytes after the image's real end (see the module docstring)."""
    name = _DISPLAY_NAMES[fmt]
    if fmt == "png":
        end = _png_end(data)
    elif fmt == "gif":
        end = _gif_end(data)
    elif fmt == "webp":
        riff_size = int.from_bytes(data[4:8], "little")
        end = 8 + riff_size + (riff_size & 1)
        if end > len(data):
            raise ImageDecodeError(
                f"truncated or corrupt WebP: RIFF size says {end} bytes, got {len(data)}"
            )
    else:
        end = data.rfind(_JPEG_EOI) + len(_JPEG_EOI)
        if end < len(_JPEG_EOI):
            raise ImageDecodeError("truncated or corrupt JPEG: no end-of-image marker")
    if end < len(data):
        raise ImageDecodeError(
            f"{len(data) - end} bytes after the end of the {name} image (polyglot file?)"
        )


def _png_end(data: bytes) -> int:
    """Offset just past the ``IEND`` chunk, walking length + type + data + CRC from byte 8."""
    pos = len(_PNG_MAGIC)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise ImageDecodeError(f"truncated or corrupt PNG: bad chunk at byte {pos}")
        pos += 12 + length
        if kind == b"IEND" and pos <= len(data):
            return pos
    raise ImageDecodeError("truncated or corrupt PNG: no IEND chunk")


def _gif_end(data: bytes) -> int:
    """Offset just past the GIF trailer byte (0x3B), walking the block stream."""
    if len(data) < 13:
        raise ImageDecodeError("truncated or corrupt GIF: no logical screen descriptor")
    pos = 13 + _color_table_size(data[10])
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            return pos + 1
        if block == 0x21:  # extension: introducer, label, sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor [+ local color table], LZW code size, data
            if pos + 10 > len(data):
                break
            pos += 10 + _color_table_size(data[pos + 9])
            pos = _skip_sub_blocks(data, pos + 1)
        else:
            raise ImageDecodeError(f"truncated or corrupt GIF: bad block 0x{block:02x}")
    raise ImageDecodeError("truncated or corrupt GIF: no trailer")


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Offset just past the zero-length block that ends a run of sub-blocks at ``pos``."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise ImageDecodeError("truncated or corrupt GIF: unterminated data sub-blocks")
