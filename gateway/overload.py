"""Load shedding: past its capacity the gateway answers at once, degraded, instead of queueing.

Posts arrive whether or not the gateway keeps up (open loop). A gateway that takes every post
into its models past capacity serves all of them late: model calls queue for inference
slots until the deadline, each burning CPU the posts inside capacity need, and the replies
come at the deadline or after it. ``OverloadGuard`` bounds the posts being scored at once
(``max_scoring_posts``; a call that finds nothing being scored is always admitted, so a
batch larger than the bound is never shed by an idle gateway). Past the bound, new calls
skip image decoding and the models: every model that applies is reported missing with
reason ``shed``, so the policy decides the post degraded — severe categories DEFER (allow
now, review later), never a silent allow — in well under a millisecond. Scoring resumes as
soon as the count drops. The load generator's 3× spike (``bench/results/load-cpu.md``) shows
the effect and what it cannot fix: calls that queue inside gRPC before their handler starts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from gateway.metrics import GatewayMetrics
from modgate.settings import OverloadSettings

log = logging.getLogger(__name__)

SHED_REASON = "shed"


class OverloadGuard:
    """Admission for model scoring: ``admit`` says whether a call's posts may be scored."""

    def __init__(self, settings: OverloadSettings, metrics: GatewayMetrics) -> None:
        self.settings = settings
        self._metrics = metrics
        self.scoring = 0
        self._shedding = False

    def admit(self, posts: int) -> bool:
        """Whether ``posts`` more may be scored now; counts the shed posts and logs each
        switch between scoring and shedding (not every post). A call is always admitted when
        nothing else is being scored: an idle gateway never sheds, whatever the call's size."""
        over = self.scoring > 0 and self.scoring + posts > self.settings.max_scoring_posts
        shedding = self.settings.enabled and over
        if shedding != self._shedding:
            self._shedding = shedding
            if shedding:
                log.warning(
                    "overloaded (%d posts being scored): shedding model scoring", self.scoring
                )
            else:
                log.info("load back under the limit: scoring every post again")
        if shedding:
            self._metrics.shed.inc(posts)
        return not shedding

    @contextlib.contextmanager
    def scoring_posts(self, posts: int) -> Iterator[None]:
        """Count ``posts`` as being scored for the duration of the block."""
        self.scoring += posts
        try:
            yield
        finally:
            self.scoring -= posts
