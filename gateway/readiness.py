"""Model readiness: the gateway asks each remote model "ready?" on a fixed interval.

A ``triton://`` classifier can be missing while the gateway itself is fine: the gateway
keeps answering (the posts that model would have scored are decided without it, degraded,
and deferred or allowed as the policy says), so the overall gRPC health stays SERVING.
What changes is per model: the health service reports ``model/<name>`` as NOT_SERVING,
``modgate_model_ready{model}`` drops to 0, one log line says why, and the probe doubles as
the backend's recovery check: when the server is back, the model is used again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from grpc_health.v1 import health, health_pb2

from gateway.metrics import GatewayMetrics
from models.interface import Classifier, ReadinessProbe

log = logging.getLogger(__name__)

HEALTH_PREFIX = "model/"


def health_name(model: str) -> str:
    """The health-service name under which ``model``'s readiness is reported."""
    return HEALTH_PREFIX + model


class ReadinessMonitor:
    """Probes every classifier that can tell (``ReadinessProbe``) every ``interval_s``."""

    def __init__(
        self,
        classifiers: Mapping[str, Classifier],
        health_servicer: health.aio.HealthServicer,
        metrics: GatewayMetrics,
        *,
        interval_s: float,
    ) -> None:
        self._probes = {n: c for n, c in classifiers.items() if isinstance(c, ReadinessProbe)}
        self._health = health_servicer
        self._metrics = metrics
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.reasons: dict[str, str | None] = {}

    async def start(self) -> None:
        """Probe once (so health is right from the first call), then keep probing."""
        await self.check()
        self._task = asyncio.create_task(self._loop(), name="model-readiness")

    async def check(self) -> None:
        """Probe every model once and publish the results."""
        if not self._probes:
            return
        names = list(self._probes)
        results = await asyncio.gather(
            *(self._probe_one(name) for name in names), return_exceptions=False
        )
        for name, reason in zip(names, results, strict=True):
            before = self.reasons.get(name, "unknown")
            self.reasons[name] = reason
            self._metrics.model_ready.labels(name).set(0 if reason else 1)
            status = health_pb2.HealthCheckResponse.NOT_SERVING
            if reason is None:
                status = health_pb2.HealthCheckResponse.SERVING
            await self._health.set(health_name(name), status)
            if reason != before and reason is not None:
                log.warning("model %s missing: %s", name, reason)
            elif reason != before and before not in (None, "unknown"):
                log.info("model %s ready again", name)

    async def _probe_one(self, name: str) -> str | None:
        try:
            return await asyncio.wait_for(self._probes[name].probe(), self._interval_s)
        except TimeoutError:
            return f"no readiness answer within {self._interval_s:.1f} s"
        except Exception as exc:  # a probe must never take the monitor down
            log.exception("model %s: readiness probe failed", name)
            return f"probe failed: {exc}"

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.check()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
