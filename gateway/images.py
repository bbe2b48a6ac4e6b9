"""The decode stage: every inline image of a call decoded safely, off the event loop, under
one time limit, before any model sees the post.

Each image is decoded on a small thread pool by ``models.image_decode.decode_image``
(format allow-list, header-checked pixel limits, polyglot check). A refused image fails the
whole call with INVALID_ARGUMENT naming it (``images[1].data``, ``posts[3].images[0].data``):
that is the client's fault. Running out of time is the server's: images not decoded within
``images.decode_timeout_ms`` are left undecoded (``Image.decoded`` None) and the service
defers their post, degraded. A decode already running when the limit passes finishes in the
background; images not yet started are cancelled. Decodes share one memory budget
(``images.decode_memory_mb``, estimated from each header): a burst of large PNGs waits its
turn instead of taking the process's memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from gateway.metrics import GatewayMetrics
from models.image_decode import DecodeBudget, ImageDecodeError, decode_cost_bytes, decode_image
from modgate.errors import BadInputError
from modgate.settings import ImageSettings
from modgate.types import DecodedImage, Post


class ImageDecoder:
    """Decodes the images of validated posts; one per gateway."""

    def __init__(self, settings: ImageSettings, metrics: GatewayMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.budget = DecodeBudget(settings.decode_memory_mb << 20)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=settings.decode_workers, thread_name_prefix="decode"
        )

    async def decode_posts(self, posts: Sequence[Post], *, batch: bool) -> list[Post]:
        """``posts`` with ``Image.decoded`` filled in (None for images not decoded in time);
        BadInputError naming a bad image."""
        jobs = [(i, j) for i, post in enumerate(posts) for j in range(len(post.images))]
        if not jobs:
            return list(posts)
        if self._executor is None:
            raise RuntimeError("image decoder is closed")
        loop = asyncio.get_running_loop()
        started = loop.time()
        futures = [
            loop.run_in_executor(
                self._executor,
                self._decode_one,
                posts[i].images[j].data,
                posts[i].images[j].mime_type,
            )
            for i, j in jobs
        ]
        _, pending = await asyncio.wait(futures, timeout=self.settings.decode_timeout_ms / 1000.0)
        for future in pending:
            future.cancel()
        decoded: dict[tuple[int, int], DecodedImage | None] = {}
        for (i, j), future in zip(jobs, futures, strict=True):
            field = f"posts[{i}].images[{j}].data" if batch else f"images[{j}].data"
            if future in pending:
                decoded[(i, j)] = None
                continue
            error = future.exception()
            if isinstance(error, ImageDecodeError):
                raise BadInputError(field, str(error))
            if error is not None:
                raise error
            decoded[(i, j)] = future.result()
        if self.metrics is not None:
            self.metrics.image_decode.observe(loop.time() - started)
            if pending:
                self.metrics.image_decode_timeouts.inc(len(pending))
        return [
            dataclasses.replace(
                post,
                images=tuple(
                    dataclasses.replace(image, decoded=decoded[(i, j)])
                    for j, image in enumerate(post.images)
                ),
            )
            if post.images
            else post
            for i, post in enumerate(posts)
        ]

    def _decode_one(self, data: bytes, mime_type: str) -> DecodedImage:
        with self.budget.reserve(decode_cost_bytes(data, self.settings)):
            return decode_image(data, mime_type=mime_type, limits=self.settings)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
