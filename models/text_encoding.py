"""Text to transformer inputs, shared by training and serving: one tokenizer path for both.

``TextEncoder`` wraps a Rust ``tokenizers`` tokenizer (``tokenizer.json`` in the artifact)
and turns already-normalized texts into ``input_ids`` / ``attention_mask`` arrays:

* **long texts keep head and tail**: a text with more content tokens than the budget
  (``max_tokens`` minus the two specials) keeps its first ⌈C/2⌉ and its last ⌊C/2⌋ content
  tokens, so an insult at the end of a long post is still seen. Before tokenizing, a text
  longer than ``32·C`` characters is cut to its first and last ``16·C`` characters (no piece
  is longer than 16 characters), which bounds tokenization cost without changing the result
  for the kept tokens;
* **length bucketing**: a batch is padded to the smallest bucket (16, 24, 32, 48, 64, 80, 96,
  128, …) that holds its longest row, so ONNX Runtime sees a bounded set of shapes and short
  posts never pay for long ones;
* **pre-allocated buffers**: padding writes into per-thread ``int64`` buffers of the largest
  bucket that are reused across calls (the arrays returned are views into them, valid
  until the same thread encodes again).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

DEFAULT_BUCKETS = (16, 24, 32, 48, 64, 80, 96, 128, 192, 256, 384, 512)
MAX_CHARS_PER_TOKEN = 16


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Model inputs for a batch; ``truncated[i]`` says row i lost middle tokens."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    lengths: tuple[int, ...]
    truncated: tuple[bool, ...]


def head_tail(ids: Sequence[int], budget: int) -> tuple[list[int], bool]:
    """Keep the first ⌈budget/2⌉ and last ⌊budget/2⌋ of ``ids`` when longer than ``budget``."""
    if len(ids) <= budget:
        return list(ids), False
    head = (budget + 1) // 2
    tail = budget - head
    return list(ids[:head]) + (list(ids[-tail:]) if tail else []), True


class TextEncoder:
    """Normalized texts → padded ``int64`` arrays. Thread-safe (buffers are per thread)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        bos_id: int,
        eos_id: int,
        pad_id: int,
        max_tokens: int,
        max_batch: int = 64,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
    ) -> None:
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3, got {max_tokens}")
        self.tokenizer = tokenizer
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.max_tokens = max_tokens
        self.max_batch = max_batch
        kept = sorted({b for b in buckets if b < max_tokens} | {max_tokens})
        self.buckets = tuple(kept)
        self._content_budget = max_tokens - 2
        self._max_chars = 2 * MAX_CHARS_PER_TOKEN * self._content_budget
        self._local = threading.local()

    @classmethod
    def from_file(
        cls, path: Path, *, bos: str, eos: str, pad: str, max_tokens: int, max_batch: int = 64
    ) -> TextEncoder:
        """Load ``tokenizer.json``; special tokens are looked up by their text."""
        tokenizer = Tokenizer.from_file(str(path))
        ids = [tokenizer.token_to_id(t) for t in (bos, eos, pad)]
        if any(i is None for i in ids):
            raise ValueError(
                f"{path}: special tokens {bos!r}, {eos!r}, {pad!r} not all in vocabulary"
            )
        bos_id, eos_id, pad_id = (int(i) for i in ids if i is not None)
        return cls(
            tokenizer,
            bos_id=bos_id,
            eos_id=eos_id,
            pad_id=pad_id,
            max_tokens=max_tokens,
            max_batch=max_batch,
        )

    def _clip_chars(self, text: str) -> str:
        if len(text) <= self._max_chars:
            return text
        half = self._max_chars // 2
        return text[:half] + " " + text[-half:]

    def token_ids(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Per text: ``[bos] + content + [eos]`` with head+tail truncation.

        Also returns, per text, whether it was cut.
        """
        clipped = [self._clip_chars(t) for t in texts]
        encodings = self.tokenizer.encode_batch_fast(clipped, add_special_tokens=False)
        rows: list[list[int]] = []
        cut: list[bool] = []
        for text, raw, enc in zip(clipped, texts, encodings, strict=True):
            content, was_cut = head_tail(enc.ids, self._content_budget)
            rows.append([self.bos_id, *content, self.eos_id])
            cut.append(was_cut or len(text) < len(raw))
        return rows, cut

    def bucket_for(self, length: int) -> int:
        """The smallest bucket that holds ``length`` tokens."""
        for bucket in self.buckets:
            if length <= bucket:
                return bucket
        return self.buckets[-1]

    def _buffers(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        ids = getattr(self._local, "ids", None)
        if ids is None or ids.shape[0] < rows:
            size = max(rows, self.max_batch)
            ids = np.empty((size, self.max_tokens), dtype=np.int64)
            self._local.ids = ids
            self._local.mask = np.empty((size, self.max_tokens), dtype=np.int64)
        mask: np.ndarray = self._local.mask
        return ids, mask

    def pad(self, rows: Sequence[Sequence[int]], truncated: Sequence[bool]) -> EncodedBatch:
        """Pad ``rows`` to their bucket in the reused per-thread buffers."""
        width = self.bucket_for(max((len(r) for r in rows), default=1))
        ids_buf, mask_buf = self._buffers(len(rows))
        ids = ids_buf[: len(rows), :width]
        mask = mask_buf[: len(rows), :width]
        ids.fill(self.pad_id)
        mask.fill(0)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return EncodedBatch(ids, mask, tuple(len(r) for r in rows), tuple(truncated))

    def encode(self, texts: Sequence[str]) -> EncodedBatch:
        """Tokenize, truncate and pad ``texts`` (already normalized) in one call."""
        rows, cut = self.token_ids(texts)
        return self.pad(rows, cut)
