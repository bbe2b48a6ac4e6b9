"""Test images: real photos from ``skimage.data`` (bundled in the scikit-image wheel), text
rendered onto them with Pillow's bundled font, and encoders for each wire format."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def photo(name: str) -> Image.Image:
    """An RGB photo from skimage.data: astronaut, coffee, chelsea, rocket, camera…"""
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def with_caption(image: Image.Image, text: str, *, size: int = 40) -> Image.Image:
    """``image`` with ``text`` in black on a white band near the bottom, like a meme."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left, bottom - top
    x = max((out.width - width) // 2, 4)
    y = out.height - height - 40
    draw.rectangle((x - 12, y - 12, x + width + 12, y + height + 16), fill="white")
    draw.text((x - left, y - top), text, fill="black", font=font)
    return out


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()
