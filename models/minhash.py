"""Near-duplicate signatures of post text: MinHash over normalized word shingles, with LSH
bands.

Spam waves post one message from many accounts with small changes: another link path, a name,
a number, a swapped or added word, leetspeak. ``signature`` first normalizes the text the way
the text model does (``models.text.normalize_cached``: homoglyphs, leetspeak, zero-width
characters), lowercases it, replaces each URL by its host and each run of digits by ``0``,
and takes the set of word unigrams and bigrams. Its MinHash is ``PERMUTATIONS`` (16) minimum
hash values, one per universal hash function over the shingles' 64-bit BLAKE2b hashes; the
share of positions where two signatures agree estimates the Jaccard similarity of the two
shingle sets (``similarity``). Two posts at ``NEAR_SIMILARITY`` (0.5) or more are
near-duplicates: a changed link or word leaves a short spam message at about 0.7-0.9, two
unrelated posts sit near 0.

``bands`` cuts a signature into ``BANDS`` (8) bands of ``ROWS`` (2) values; an index keyed by
band finds the candidates (``gateway/behaviour.py``): posts at similarity 0.8 share a band with
probability 1 - (1 - 0.8^2)^8 > 0.999. Texts under ``MIN_WORDS`` words get no signature: "good
morning" from a thousand people is not a spam wave. Pure and thread-safe; about 30 µs a post.
"""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np

from models.text import normalize_cached

PERMUTATIONS = 16
ROWS = 2
BANDS = PERMUTATIONS // ROWS
NEAR_SIMILARITY = 0.5
MIN_WORDS = 6

_PRIME = (1 << 31) - 1  # Mersenne prime: hash values are taken modulo it
_rng = np.random.default_rng(20261203)  # fixed: signatures must agree across processes
_A = _rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_URL = re.compile(r"\b(?:https?://|www\.)([^\s/?#]+)[^\s]*", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"\w+")
_MAX_CHARS = 2000  # the head of a long post is enough to recognise a copy


def words(text: str) -> list[str]:
    """The normalized words a signature is made of (URLs as their host, digits as 0)."""
    # The whole text's normalization is memoized (the gateway's text features made it).
    normalized = normalize_cached(text).text[:_MAX_CHARS].lower()
    normalized = _URL.sub(lambda m: f" {m.group(1)} ", normalized)
    return _WORD.findall(_DIGITS.sub("0", normalized))


def signature(text: str) -> tuple[int, ...] | None:
    """The text's MinHash signature, or None when it has fewer than ``MIN_WORDS`` words."""
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return None
    shingles = set(tokens) | {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    x = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") % _PRIME
            for s in shingles
        ),
        dtype=np.uint64,
        count=len(shingles),
    )
    # (a * x + b) mod p for every hash function at once; a, x < 2**31, so no overflow.
    mins = ((_A[:, None] * x[None, :] + _B[:, None]) % np.uint64(_PRIME)).min(axis=1)
    return tuple(int(v) for v in mins)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (0..1)."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / PERMUTATIONS


def bands(sig: tuple[int, ...]) -> list[str]:
    """One key per band (``band index:values``), for an index of candidates."""
    return [
        f"{i}:" + ".".join(f"{v:x}" for v in sig[i * ROWS : (i + 1) * ROWS]) for i in range(BANDS)
    ]
