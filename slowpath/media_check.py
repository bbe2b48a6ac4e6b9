"""The slow path's second look at a deferred post's images against the hash bank.

The bank changes while posts wait (trust and safety add entries for media spreading right
now), and the gateway's match may have been late or failed (``known_media.model_missing``).
``KnownMediaCheck.match`` decodes the image bytes a ``DeferredPost`` carries with the
gateway's safe decoder and matches them with the same ``HashMatchClassifier`` against the
bank as it is now (re-read when the file changes). The router then:

- removes the post when the policy's ``known_media`` rule says REMOVE for the match (a final
  action with source ``model`` and the bank entry as its reason);
- otherwise counts ``known_media`` as checked: a post deferred only because the gateway's
  match was missing is no longer waiting on images for that reason.

Posts whose record carries no image bytes (dropped past ``max_record_bytes``) are not
checked, and a gateway reason about known media stays open for moderators.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from models.interface import Prediction
from models.media_match import HashMatchClassifier
from modgate.pb import records_pb2 as rpb
from modgate.settings import HashBankSettings, ImageSettings
from modgate.types import Author, Post
from slowpath.image_text import decode_images


class KnownMediaCheck:
    def __init__(self, settings: HashBankSettings, images: ImageSettings) -> None:
        self.matcher = HashMatchClassifier(settings, cache_entries=0)
        self.images = images
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slowpath-pdq")

    @property
    def version(self) -> str:
        return self.matcher.version

    @staticmethod
    def applies_to(record: rpb.DeferredPost) -> bool:
        return any(image.data for image in record.post.images)

    async def match(self, record: rpb.DeferredPost) -> Prediction | None:
        """The bank's answer for the post's images; None when none of them decodes."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._match, record)

    def _match(self, record: rpb.DeferredPost) -> Prediction | None:
        post = record.post
        images = decode_images(post, self.images)
        if not images:
            return None
        candidate = Post(
            post_id=post.post_id, author=Author(id=post.author.id), images=tuple(images)
        )
        [prediction] = self.matcher.match_posts([candidate])
        return prediction

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
