"""Prometheus metrics of the frame, served at ``GET /metrics`` by every service.

Metrics are defined once per process (module level) and labelled by
``service``: tests run several services in one process, and each service's
``/metrics`` shows only its own series (plus the process/GC metrics). The
outbox backlog and the consumers' pending counts are read at scrape time,
each read bounded so a scrape never hangs on a dead NATS or database. The
list of metrics for operators is in docs/SERVICE_FRAME.md ("Metrics and
traces").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import asyncpg
from litestar import Request, Response, get
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from keybuzz_shared import outbox

log = logging.getLogger(__name__)

SCRAPE_READ_TIMEOUT = 1.0
OUTCOMES = ("ok", "retried", "held", "dead_lettered")
# Handlers range from a single-row upsert to a 10,000-tenant batch.
_HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS = Counter(
    "keybuzz_events",
    "Events handled, by outcome: ok, retried (handler failed, redelivery scheduled), "
    "held (a dependency is down, redelivered later), dead_lettered.",
    ["service", "consumer", "subject", "outcome"],
)
EVENT_SECONDS = Histogram(
    "keybuzz_event_handler_seconds",
    "Time spent handling one event, whatever the outcome.",
    ["service", "consumer", "subject"],
    buckets=_HANDLER_BUCKETS,
)


def event_outcome(
    service: str, subject: str, outcome: str, seconds: float, consumer: str | None = None
) -> None:
    """One event handled: outcome is ``ok``, ``retried``, ``held`` (dependency down) or
    ``dead_lettered``; ``seconds`` is the handler's latency; ``consumer`` is the durable
    name (by default the one ``EventSubscription`` derives from the subject)."""
    durable = consumer or f"{service}-{subject.replace('.', '-')}"
    EVENTS.labels(service, durable, subject, outcome).inc()
    EVENT_SECONDS.labels(service, durable, subject).observe(seconds)


# --- HTTP -------------------------------------------------------------------------------


class _RouteMiddleware(PrometheusMiddleware):
    """Litestar's Prometheus middleware, labelled by service and route *template*
    (``/api/v1/tenants/status/{tenant_id:str}``): raw paths would make one series per tenant."""

    def _get_default_labels(self, request: Request[Any, Any, Any]) -> dict[str, str | int | float]:
        return {
            "service": self._config.app_name,
            "method": request.method,
            "route": request.scope.get("path_template") or "unmatched",
            "status_code": 200,  # replaced by the response's status once it is sent
        }


def http_middleware(service: str) -> DefineMiddleware:
    """``keybuzz_http_requests_total`` and friends for every routed request."""
    return PrometheusConfig(
        app_name=service,
        prefix="keybuzz_http",
        middleware_class=_RouteMiddleware,
        exclude=["^/metrics$"],  # scrapes counting themselves is noise
    ).middleware


# --- scrape-time gauges ---------------------------------------------------------------


class Scraped(Protocol):
    """What /metrics reads from the service's Runtime (kept structural: no import cycle)."""

    name: str
    subscriptions: list[Any]

    @property
    def nc(self) -> Client: ...

    @property
    def js(self) -> JetStreamContext: ...


async def _outbox_families(runtime: Scraped) -> list[Metric]:
    service = runtime.name
    backlog = GaugeMetricFamily(
        "keybuzz_outbox_pending_events",
        "Events committed to the outbox and not yet published to JetStream.",
        labels=["service"],
    )
    age = GaugeMetricFamily(
        "keybuzz_outbox_oldest_pending_age_seconds",
        "Age of the oldest unpublished outbox event (0 when none is pending).",
        labels=["service"],
    )
    pool: asyncpg.Pool | None = getattr(runtime, "pool", None)  # absent until start-up ran
    if pool is None:
        return [_source_up(service, "database", False)]
    try:
        count, oldest = await asyncio.wait_for(outbox.backlog(pool, service), SCRAPE_READ_TIMEOUT)
    except Exception as exc:
        log.warning("metrics: outbox backlog unreadable", extra={"error": repr(exc)})
        return [_source_up(service, "database", False)]
    backlog.add_metric([service], count)
    age.add_metric([service], oldest or 0.0)
    return [backlog, age, _source_up(service, "database", True)]


async def _consumer_families(runtime: Scraped) -> list[Metric]:
    service = runtime.name
    pending = GaugeMetricFamily(
        "keybuzz_consumer_pending_messages",
        "Messages in the stream not yet delivered to this durable consumer.",
        labels=["service", "stream", "consumer"],
    )
    ack_pending = GaugeMetricFamily(
        "keybuzz_consumer_ack_pending_messages",
        "Messages delivered to this consumer and not yet acknowledged (being handled or "
        "waiting for a redelivery).",
        labels=["service", "stream", "consumer"],
    )
    subscriptions = list(runtime.subscriptions)
    try:
        if not runtime.nc.is_connected:  # nats-py would wait for the reconnect
            raise ConnectionError("NATS is not connected")
        infos = await asyncio.wait_for(_consumer_infos(runtime, subscriptions), SCRAPE_READ_TIMEOUT)
    except Exception as exc:
        log.warning("metrics: consumer state unreadable", extra={"error": repr(exc)})
        return [_source_up(service, "nats", False)]
    for sub, (num_pending, num_ack_pending) in zip(subscriptions, infos, strict=True):
        pending.add_metric([service, sub.stream, sub.durable], num_pending)
        ack_pending.add_metric([service, sub.stream, sub.durable], num_ack_pending)
    return [pending, ack_pending, _source_up(service, "nats", True)]


async def _consumer_infos(runtime: Scraped, subscriptions: list[Any]) -> list[tuple[int, int]]:
    # A coroutine, not a bare gather: wait_for cancels a timed-out gather without
    # retrieving its CancelledError, which asyncio then logs as an error.
    return await asyncio.gather(
        *(_consumer_info(runtime, s.stream, s.durable) for s in subscriptions)
    )


async def _consumer_info(runtime: Scraped, stream: str, durable: str) -> tuple[int, int]:
    info = await runtime.js.consumer_info(stream, durable, timeout=SCRAPE_READ_TIMEOUT)
    return info.num_pending or 0, info.num_ack_pending or 0


def _source_up(service: str, source: str, up: bool) -> Metric:
    family = GaugeMetricFamily(
        "keybuzz_metrics_source_up",
        "1 when this scrape could read the source (database: outbox, nats: consumers).",
        labels=["service", "source"],
    )
    family.add_metric([service, source], 1.0 if up else 0.0)
    return family


# --- exposition -----------------------------------------------------------------------


class _ServiceView:
    """The process registry restricted to one service's series, plus scrape-time families."""

    def __init__(self, service: str, extra: Sequence[Metric]) -> None:
        self.service = service
        self.extra = extra

    def collect(self) -> Iterable[Metric]:
        yield from self._own(REGISTRY.collect())
        yield from _merged(self.extra)

    def _own(self, families: Iterable[Metric]) -> Iterator[Metric]:
        for family in families:
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = [
                s for s in family.samples if s.labels.get("service", self.service) == self.service
            ]
            yield copy


def _merged(families: Iterable[Metric]) -> list[Metric]:
    """One family per name: the exposition format refuses a name twice."""
    by_name: dict[str, Metric] = {}
    for family in families:
        if family.name in by_name:
            by_name[family.name].samples.extend(family.samples)
        else:
            by_name[family.name] = family
    return list(by_name.values())


async def render(runtime: Scraped) -> bytes:
    queued, consumers = await asyncio.gather(_outbox_families(runtime), _consumer_families(runtime))
    return generate_latest(_ServiceView(runtime.name, [*queued, *consumers]))


def metrics_handler(runtime: Scraped) -> ControllerRouterHandler:
    """``GET /metrics``: no auth, no tenant (Prometheus scrapes it on the internal network)."""

    @get("/metrics", operation_id="metrics", include_in_schema=False)
    async def scrape() -> Response[bytes]:
        body = await render(runtime)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return scrape
