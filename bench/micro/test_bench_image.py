"""The image path's cheap stages on a real 512² photo (skimage's astronaut): safe decoding of a
JPEG into the working copy, Open NSFW preprocessing of the decoded image, its PDQ hash, and a
hash-bank match against 10,000 entries. The models and OCR are in ``bench/images.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.hashbank import BankEntry, HashBank, pdq_hash
from models.image import pixels
from models.image_decode import decode_image
from models.image_preprocess import OPEN_NSFW_SPEC, preprocess
from modgate.settings import ImageSettings
from modgate.types import DecodedImage
from tests.images import encode, photo

LIMITS = ImageSettings()


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return encode(photo("astronaut"), "JPEG", quality=85)


@pytest.fixture(scope="module")
def image(jpeg: bytes) -> DecodedImage:
    return decode_image(jpeg, limits=LIMITS)


def test_decode_jpeg_512(benchmark: Any, jpeg: bytes) -> None:
    decoded = benchmark(decode_image, jpeg, mime_type="image/jpeg", limits=LIMITS)
    assert (decoded.width, decoded.height, decoded.format) == (512, 512, "jpeg")


def test_open_nsfw_preprocess(benchmark: Any, image: DecodedImage) -> None:
    tensor = benchmark(preprocess, pixels(image), OPEN_NSFW_SPEC)
    assert tensor.shape == (224, 224, 3)
    assert tensor.dtype == np.float32


def test_pdq_hash_512(benchmark: Any, image: DecodedImage) -> None:
    h, quality = benchmark(pdq_hash, pixels(image))
    assert len(h) == 32
    assert quality >= 50


def test_hashbank_match_10k(benchmark: Any, image: DecodedImage, tmp_path: Path) -> None:
    raw = np.random.default_rng(0).integers(0, 256, size=(10_000, 32), dtype=np.uint8)
    bank = HashBank(tmp_path / "bank.jsonl")
    bank.add_all(BankEntry(id=f"r{i}", hash=row.tobytes()) for i, row in enumerate(raw))
    h, _ = pdq_hash(pixels(image))
    assert benchmark(bank.match, h) is None  # random hashes sit ~128 bits away
    assert bank.match(raw[1234].tobytes()).entry.id == "r1234"
