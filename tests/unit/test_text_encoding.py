"""The shared tokenization path: head+tail truncation, length buckets, reused buffers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from models.text_encoding import TextEncoder, head_tail


def _encoder(max_tokens: int = 8) -> TextEncoder:
    words = ["<s>", "</s>", "<pad>", "<unk>"] + [f"w{i}" for i in range(200)]
    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    return TextEncoder(tok, bos_id=0, eos_id=1, pad_id=2, max_tokens=max_tokens, buckets=(4, 8))


def test_head_tail_keeps_short_sequences_whole() -> None:
    assert head_tail([1, 2, 3], 5) == ([1, 2, 3], False)


def test_head_tail_keeps_the_first_and_last_tokens_of_long_sequences() -> None:
    assert head_tail(list(range(10)), 5) == ([0, 1, 2, 8, 9], True)
    assert head_tail(list(range(10)), 4) == ([0, 1, 8, 9], True)
    assert head_tail(list(range(10)), 1) == ([0], True)


def test_encode_adds_specials_and_pads_to_the_smallest_bucket() -> None:
    batch = _encoder().encode(["w1 w2", "w3"])
    assert batch.input_ids.dtype == np.int64
    assert batch.input_ids.shape == (2, 4)
    assert batch.input_ids.tolist() == [[0, 5, 6, 1], [0, 7, 1, 2]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch.lengths == (4, 3)
    assert batch.truncated == (False, False)


def test_long_text_keeps_its_tail_and_is_marked_truncated() -> None:
    text = " ".join(f"w{i}" for i in range(20))
    batch = _encoder(max_tokens=8).encode([text])
    ids = batch.input_ids[0].tolist()
    # 6 content tokens: first 3 and last 3 words.
    assert ids == [0, 4, 5, 6, 21, 22, 23, 1]
    assert batch.truncated == (True,)


def test_very_long_text_is_cut_in_characters_before_tokenizing_with_the_same_tail() -> None:
    enc = _encoder(max_tokens=8)
    text = " ".join(["w1"] * 5000) + " w7 w8 w9"
    ids = enc.encode([text]).input_ids[0].tolist()
    assert ids[-4:] == [11, 12, 13, 1]
    assert ids[:4] == [0, 5, 5, 5]


def test_buckets_cap_at_max_tokens() -> None:
    enc = _encoder(max_tokens=8)
    assert enc.buckets == (4, 8)
    assert enc.bucket_for(3) == 4
    assert enc.bucket_for(5) == 8
    assert enc.bucket_for(50) == 8


def test_buffers_are_reused_within_a_thread_and_separate_across_threads() -> None:
    enc = _encoder()
    first = enc.encode(["w1"]).input_ids
    second = enc.encode(["w2 w3"]).input_ids
    assert np.shares_memory(first, second)
    seen: list[np.ndarray] = []
    t = threading.Thread(target=lambda: seen.append(enc.encode(["w4"]).input_ids))
    t.start()
    t.join()
    assert not np.shares_memory(seen[0], second)


def test_rejects_a_budget_too_small_for_the_specials() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        _encoder(max_tokens=2)
