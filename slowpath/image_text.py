"""The slow path's OCR check: text inside the images of posts the gateway could not read.

A post whose verdict says ``ocr: skipped_budget`` (the deadline left too little time),
``deferred`` (OCR configured for the slow path) or ``failed`` arrives here with its image
bytes. ``ImageTextCheck.read`` decodes them with the gateway's safe decoder, reads them with
the same OCR engine and scores the text with the same text model (on a worker thread).
``recheck`` then asks the policy again with the image text's scores merged in (maximum per
category):

- if the only reason the post was deferred was the unread text (no other rule asked for
  DEFER, no model was missing), the new verdict is final when it is ALLOW or REMOVE
  (source ``model``, reason ``ocr.allow`` / ``ocr.remove``);
- otherwise the image text travels on to the LLM judge and the moderator queue.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from decision import Policy, decide
from models.image_decode import ImageDecodeError, decode_image
from models.ocr import ImageText, OcrTextClassifier
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.settings import ImageSettings
from modgate.types import Action, Category, Image, max_scores

log = logging.getLogger(__name__)

UNREAD = frozenset({"skipped_budget", "deferred", "failed"})


def decode_images(post: pb.ModerateRequest, limits: ImageSettings) -> list[Image]:
    """The post's images that carry bytes, decoded with the gateway's safe decoder; one that
    does not decode here (the gateway accepted it, so settings differ) is logged and left out."""
    images: list[Image] = []
    for index, image in enumerate(post.images):
        if not image.data:
            continue
        try:
            decoded = decode_image(image.data, mime_type=image.mime_type, limits=limits)
        except ImageDecodeError as exc:
            log.warning("post %s images[%d] not decodable here: %s", post.post_id, index, exc)
            continue
        images.append(Image(data=image.data, mime_type=image.mime_type, decoded=decoded))
    return images


class ImageTextCheck:
    def __init__(self, reader: OcrTextClassifier, images: ImageSettings) -> None:
        self.reader = reader
        self.images = images
        self._executor = ThreadPoolExecutor(
            max_workers=reader.settings.workers, thread_name_prefix="slowpath-ocr"
        )

    @staticmethod
    def applies_to(record: rpb.DeferredPost) -> bool:
        return record.verdict.ocr in UNREAD and any(i.data for i in record.post.images)

    async def read(self, record: rpb.DeferredPost) -> ImageText | None:
        """OCR the post's images; None when none of them can be decoded."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, record.post)

    def _read(self, post: pb.ModerateRequest) -> ImageText | None:
        decoded = [image.decoded for image in decode_images(post, self.images) if image.decoded]
        if not decoded:
            return None
        found = self.reader.read_images(decoded)
        texts = [f.text for f in found if f.text]
        return ImageText(" / ".join(texts), max_scores(*(f.scores for f in found)))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def merged_scores(verdict: pb.Verdict, found: ImageText) -> dict[Category, float]:
    return max_scores(verdict.scores, found.scores)


def recheck(
    record: rpb.DeferredPost, found: ImageText, policy: Policy
) -> tuple[Action | None, dict[Category, float]]:
    """The final action now that the image text is read, or None if people must look."""
    verdict = record.verdict
    scores = merged_scores(verdict, found)
    deferred_by = {r.code for r in verdict.reasons if r.action == pb.DEFER}
    if verdict.degraded or deferred_by - {"ocr.unread"}:
        return None, scores
    features = {"region": record.post.region, "language": verdict.language, "ocr": "done"}
    again = decide(scores, features, policy)
    if again.action is Action.DEFER:
        return None, scores
    return again.action, scores
