"""Known-bad media: every image's PDQ hash matched against the hash bank.

A ``DetailedClassifier`` for the ``known_media`` category: 1.0 when any image of the post is
within ``hashbank.max_distance`` bits of a bank entry, else 0.0. Each match is cited as
evidence, reason code ``known_media.entry.<entry id>``, with the entry's label and the
distance, so the verdict names the bank entry. Images whose PDQ quality is below
``hashbank.min_quality`` (flat, tiny, featureless) are not matched: their hashes collide.

Hashes are cached by the SHA-256 of the image bytes; matching is not (the bank may change:
the file is re-read when its size or mtime changes, checked every ``hashbank.reload_s``).
Hashing and matching run on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from models.cache import ContentCache
from models.errors import ModelTimeoutError
from models.hashbank import BankMatch, HashBank, pdq_hash
from models.image import pixels
from models.interface import Prediction
from modgate.settings import HashBankSettings
from modgate.types import KNOWN_MEDIA, Action, Category, DecodedImage, Post, Reason, Scores

VERSION = "pdq-1"


class HashMatchClassifier:
    """PDQ + bank lookup for each image of a post."""

    def __init__(
        self, settings: HashBankSettings, *, cache_entries: int = 4096, name: str = "hashbank"
    ) -> None:
        self.settings = settings
        self.bank = HashBank(settings.path, max_distance=settings.max_distance)
        self._name = name
        self._hashes: ContentCache[tuple[bytes, int]] = ContentCache(cache_entries)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pdq"
        )
        # Re-reading a large bank takes a while (about 0.6 s per 100k entries): it runs on
        # its own thread while matching goes on against the previous snapshot.
        self._reloader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bank-reload")
        self._reload: Future[bool] | None = None
        self._checked_at = time.monotonic()

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return VERSION

    @property
    def categories(self) -> tuple[Category, ...]:
        return (KNOWN_MEDIA,)

    def applies_to(self, post: Post) -> bool:
        return any(image.decoded is not None for image in post.images)

    def hash_of(self, image: DecodedImage) -> tuple[bytes, int]:
        cached = self._hashes.get(image.sha256)
        if cached is None:
            cached = pdq_hash(pixels(image))
            self._hashes.put(image.sha256, cached)
        return cached

    def match_posts(self, posts: Sequence[Post]) -> list[Prediction]:
        """Hash and match every image of ``posts`` on the calling thread."""
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_s and (
            self._reload is None or self._reload.done()
        ):
            self._checked_at = now
            self._reload = self._reloader.submit(self.bank.reload_if_changed)
        return [self._match_post(post) for post in posts]

    def _match_post(self, post: Post) -> Prediction:
        evidence: list[Reason] = []
        for index, image in enumerate(post.images):
            if image.decoded is None:
                continue
            digest, quality = self.hash_of(image.decoded)
            if quality < self.settings.min_quality:
                continue
            found = self.bank.match(digest)
            if found is not None:
                evidence.append(_cite(found, index, self.settings.max_distance))
        score = 1.0 if evidence else 0.0
        return Prediction({KNOWN_MEDIA: score}, evidence=tuple(evidence))

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        return [p.scores for p in await self.predict_detailed(posts, timeout_s=timeout_s)]

    async def predict_detailed(
        self, posts: Sequence[Post], *, timeout_s: float
    ) -> list[Prediction]:
        if timeout_s <= 0 or self._executor is None:
            raise ModelTimeoutError(self._name, VERSION, "no time budget left")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self.match_posts, list(posts))
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise ModelTimeoutError(
                self._name, VERSION, f"no answer within {timeout_s * 1000:.1f} ms"
            ) from None

    async def aclose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._reloader.shutdown(wait=False, cancel_futures=True)


def _cite(found: BankMatch, index: int, max_distance: int) -> Reason:
    entry = found.entry
    label = f", label {entry.label!r}" if entry.label else ""
    return Reason(
        f"{KNOWN_MEDIA}.entry.{entry.id}",
        Action.ALLOW,  # decide() gives it the action of the known_media rule
        KNOWN_MEDIA,
        score=1.0 - found.distance / 256.0,
        detail=(
            f"images[{index}] matches hash-bank entry {entry.id!r}{label} "
            f"(PDQ distance {found.distance} <= {max_distance})"
        ),
    )
