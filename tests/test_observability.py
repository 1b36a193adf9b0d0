"""Observability: Prometheus metrics at /metrics, and one trace id from an HTTP request
through the outbox and NATS into the consumer, carried by every log line of that work.

Real servers throughout: tenant-sync runs in-process on the test NATS/PostgreSQL/OpenBao,
events are read back from JetStream, logs are the JSON lines the services print.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import nats
import pytest
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import collected_nats_task, eventually
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared import outbox, tracing
from keybuzz_shared.events import TenantSynced
from keybuzz_shared.logs import JsonFormatter
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from opentelemetry import trace
from prometheus_client.parser import text_string_to_metric_families

INTERNAL = {"X-Internal-Key": DEV_INTERNAL_API_KEY}
STATUS_ROUTE = "/api/v1/tenants/status/{tenant_id}"


def new_traceparent() -> tuple[str, str]:
    """(trace id, W3C traceparent header) of a trace started by some caller upstream."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str) -> str:
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16, traceparent
    return trace_id


@pytest.fixture
async def tenant_sync(start_service: Callable[..., Awaitable[Any]], make_database: Any) -> Any:
    product = await make_database("product")
    await bootstrap.seed_product_database(product)  # seed 004: kbz-003 exists
    # Its consumers' long polls a second: an idle service's expire within the test.
    return await start_service(
        TENANT_SYNC, PRODUCT_DATABASE_URL=product, EVENT_LONG_POLL_SECONDS="1"
    )


@pytest.fixture
async def js(stack: Any) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(stack.nats_url)
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """Every log line of this process while the test runs, as the JSON the services print."""
    lines: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Capture()
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The services log uvicorn's access lines through the root logger (log_config=None);
    # an earlier test in this process may have run a uvicorn with its own logging set-up.
    access = logging.getLogger("uvicorn.access")
    saved = access.level, access.propagate
    access.setLevel(logging.INFO)
    access.propagate = True
    yield lines
    access.setLevel(saved[0])
    access.propagate = saved[1]
    root.removeHandler(handler)
    root.setLevel(level)


async def scrape(service: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``/metrics`` of a service (no credentials), as {(sample name, labels): value}."""
    async with service.client() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and wanted <= ls)


def series(metrics: dict[Any, float], name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in metrics if n == name]


async def next_message(sub: Any, match: Callable[[Msg], bool], within: float = 10.0) -> Msg:
    deadline = asyncio.get_running_loop().time() + within
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        msg = await sub.next_msg(timeout=remaining)
        if match(msg):
            return msg
    raise AssertionError("no matching message on JetStream")


def served(lines: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """The service's log lines about ``path`` (not the test's own HTTP client's)."""
    return [line for line in lines if path in line["message"] and line["logger"] != "httpx"]


def for_tenant(tenant: str) -> Callable[[Msg], bool]:
    return lambda msg: json.loads(msg.data).get("tenantId") == tenant


# --- trace context ----------------------------------------------------------------------


async def test_request_traceparent_reaches_the_event_and_the_request_logs(
    tenant_sync: Any, js: JetStreamContext, json_logs: list[dict[str, Any]]
) -> None:
    trace_id, traceparent = new_traceparent()
    synced = await js.subscribe(
        "tenant.synced", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    async with tenant_sync.client(headers=INTERNAL) as http:
        response = await http.post(
            "/api/v1/tenants/sync",
            json={"tenantId": "kbz-003"},
            headers={"traceparent": traceparent},
        )
    assert response.status_code == 200, response.text

    # The outbox stored the request's trace context with the row and sent it as NATS headers.
    message = await next_message(synced, for_tenant("kbz-003"))
    assert message.headers is not None and "traceparent" in message.headers
    assert trace_id_of(message.headers["traceparent"]) == trace_id
    await synced.unsubscribe()

    # The request's log lines (uvicorn's access line among them) carry the same trace id.
    request_lines = served(json_logs, "/api/v1/tenants/sync")
    assert request_lines, json_logs
    for line in request_lines:
        assert line["trace_id"] == trace_id, line
        assert len(line["span_id"]) == 16


async def test_request_without_traceparent_starts_a_new_trace(
    tenant_sync: Any, js: JetStreamContext, json_logs: list[dict[str, Any]]
) -> None:
    synced = await js.subscribe(
        "tenant.synced", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    async with tenant_sync.client(headers=INTERNAL) as http:
        response = await http.post("/api/v1/tenants/sync", json={"tenantId": "kbz-004"})
    assert response.status_code == 200, response.text
    message = await next_message(synced, for_tenant("kbz-004"))
    await synced.unsubscribe()
    assert message.headers is not None
    trace_id = trace_id_of(message.headers["traceparent"])
    assert trace_id != "0" * 32
    access = served(json_logs, "/api/v1/tenants/sync")
    assert access and all(line["trace_id"] == trace_id for line in access), access


async def test_consumer_logs_carry_the_trace_id_of_the_event(
    tenant_sync: Any, js: JetStreamContext, json_logs: list[dict[str, Any]]
) -> None:
    trace_id, traceparent = new_traceparent()
    tenant = f"obs-{uuid.uuid4().hex[:10]}"
    # Archiving a tenant we never saw is logged (at info) by the handler itself.
    await js.publish(
        "tenant.archived",
        json.dumps({"tenantId": tenant}).encode(),
        headers={"traceparent": traceparent},
    )

    def handler_line() -> dict[str, Any] | None:
        return next(
            (
                line
                for line in json_logs
                if line["message"].startswith("archived tenant is unknown")
                and line.get("tenant_id", line.get("tenantId")) == tenant
            ),
            None,
        )

    async def logged() -> dict[str, Any] | None:
        return handler_line()

    line = await eventually(logged)
    assert line["trace_id"] == trace_id, line


def test_consume_context_continues_the_sender_trace_or_starts_one() -> None:
    tracing.configure("test")
    trace_id, traceparent = new_traceparent()
    with tracing.consume_context({"Traceparent": traceparent}, "tenant.created process"):
        ids = tracing.current_ids()
        forwarded = tracing.trace_headers()
    assert ids is not None and ids[0] == trace_id
    assert trace_id_of(forwarded["traceparent"]) == trace_id  # what an emitted event would carry
    with tracing.consume_context(None, "tenant.created process"):
        fresh = tracing.current_ids()
    assert fresh is not None and fresh[0] != trace_id
    assert tracing.current_ids() is None and tracing.trace_headers() == {}


def test_without_an_exporter_spans_are_ids_only_unless_the_caller_samples() -> None:
    """Nothing reads a recorded span here: a new trace only makes ids (for logs and the
    traceparent sent on, marked not sampled); a caller's sampled trace stays sampled."""
    tracing.configure("test")
    with tracing.consume_context(None, "tenant.created process"):
        recording = trace.get_current_span().is_recording()
        flags = tracing.trace_headers()["traceparent"].rsplit("-", 1)[1]
        ids = tracing.current_ids()
    assert ids is not None and not recording and int(flags, 16) & 1 == 0  # 01 = sampled
    _, sampled = new_traceparent()  # flags 01
    with tracing.consume_context({"traceparent": sampled}, "tenant.created process"):
        assert trace.get_current_span().is_recording()
        assert tracing.trace_headers()["traceparent"].endswith("-01")


# --- metrics ----------------------------------------------------------------------------


async def test_http_requests_counted_by_route_template_and_status(tenant_sync: Any) -> None:
    # The registry is per process: other tests' services may have counted this route too.
    route = {"service": "tenant-sync", "route": STATUS_ROUTE, "method": "GET"}
    before = await scrape(tenant_sync)

    def counted(metrics: Any, name: str, status: str) -> float:
        return value(metrics, name, **route, status_code=status) - value(
            before, name, **route, status_code=status
        )

    async with tenant_sync.client(headers=INTERNAL) as http:
        assert (await http.get("/api/v1/tenants/status/kbz-003")).status_code == 200
        bad = await http.get("/api/v1/tenants/status/not%20an%20id!")
        assert bad.status_code == 400, bad.text
        assert (await http.get("/api/v1/tenants/status/kbz-003")).status_code == 200
    metrics = await scrape(tenant_sync)

    assert counted(metrics, "keybuzz_http_requests_total", "200") == 2
    assert counted(metrics, "keybuzz_http_requests_total", "400") == 1
    assert counted(metrics, "keybuzz_http_request_duration_seconds_count", "200") == 2
    # One series per route, never per raw path (one per tenant would explode).
    routes = {s["route"] for s in series(metrics, "keybuzz_http_requests_total")}
    assert not any("kbz-003" in r for r in routes), routes
    # Scrapes are not counted: they would dominate every dashboard.
    assert "/metrics" not in routes


async def test_metrics_are_per_service_in_a_shared_process(
    tenant_sync: Any, start_service: Callable[..., Awaitable[Any]]
) -> None:
    oauth = await start_service(OAUTH)  # a second app in this process: no duplicate metrics
    async with oauth.client() as http:
        assert (await http.get("/health")).status_code == 200
    async with tenant_sync.client() as http:
        assert (await http.get("/health")).status_code == 200
    oauth_metrics = await scrape(oauth)
    services = {s["service"] for s in series(oauth_metrics, "keybuzz_http_requests_total")}
    assert services == {"oauth"}
    assert value(oauth_metrics, "keybuzz_outbox_pending_events", service="oauth") == 0
    assert series(oauth_metrics, "keybuzz_outbox_pending_events") == [{"service": "oauth"}]


async def test_outbox_backlog_and_consumer_state_are_read_at_scrape_time(
    tenant_sync: Any,
) -> None:
    pool = tenant_sync.runtime.pool
    tenant = f"obs-{uuid.uuid4().hex[:10]}"
    event = TenantSynced(tenant_id=tenant, name="Obs", plan="PRO", status="ACTIVE")
    async with pool.acquire() as relay_lock, relay_lock.transaction():
        # Hold the producer's relay lock, as a second instance would: the row stays pending.
        await relay_lock.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", outbox.LOCK_NAMESPACE, "tenant-sync"
        )
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_many(conn, "tenant-sync", [event])
            await conn.execute(
                "UPDATE event_outbox SET created_at = now() - interval '90 seconds' "
                "WHERE event_id = $1",
                event.event_id,
            )
        held = await scrape(tenant_sync)
    assert value(held, "keybuzz_outbox_pending_events", service="tenant-sync") == 1
    assert value(held, "keybuzz_outbox_oldest_pending_age_seconds", service="tenant-sync") >= 90
    assert value(held, "keybuzz_metrics_source_up", service="tenant-sync", source="database")
    assert value(held, "keybuzz_metrics_source_up", service="tenant-sync", source="nats")
    consumers = {s["consumer"] for s in series(held, "keybuzz_consumer_pending_messages")}
    assert "tenant-sync-tenant-created" in consumers, consumers
    assert series(held, "keybuzz_consumer_ack_pending_messages")

    async def drained() -> bool:  # lock released: the relay publishes, the gauges follow
        now = await scrape(tenant_sync)
        return value(now, "keybuzz_outbox_pending_events", service="tenant-sync") == 0

    await eventually(drained)
    after = await scrape(tenant_sync)
    assert value(after, "keybuzz_outbox_oldest_pending_age_seconds", service="tenant-sync") == 0


async def test_handled_events_are_counted_by_subject_and_outcome(
    tenant_sync: Any, js: JetStreamContext
) -> None:
    labels = {"service": "tenant-sync", "subject": "tenant.created"}
    before = await scrape(tenant_sync)
    tenant = f"obs-{uuid.uuid4().hex[:10]}"
    good = {"tenantId": tenant, "name": "Obs", "plan": "pro", "status": "active", "country": "FR"}
    await js.publish("tenant.created", json.dumps(good).encode())
    await js.publish("tenant.created", b"{not json")

    async def counted() -> dict[Any, float] | None:
        now = await scrape(tenant_sync)
        ok = value(now, "keybuzz_events_total", **labels, outcome="ok")
        parked = value(now, "keybuzz_events_total", **labels, outcome="dead_lettered")
        ok_before = value(before, "keybuzz_events_total", **labels, outcome="ok")
        parked_before = value(before, "keybuzz_events_total", **labels, outcome="dead_lettered")
        return now if ok > ok_before and parked > parked_before else None

    after = await eventually(counted)
    assert value(after, "keybuzz_event_handler_seconds_count", **labels) > value(
        before, "keybuzz_event_handler_seconds_count", **labels
    )
    assert {s["consumer"] for s in series(after, "keybuzz_events_total")} >= {
        "tenant-sync-tenant-created"
    }


async def test_metrics_answer_quickly_when_nats_is_down(
    start_service: Callable[..., Awaitable[Any]],
    private_nats: Any,
    make_database: Any,
    json_logs: list[dict[str, Any]],
) -> None:
    service = await start_service(TENANT_SYNC, NATS_URL=private_nats.spec.url)
    private_nats.stop()

    async def disconnected() -> bool:  # the client has seen its socket close
        return not service.runtime.nc.is_connected

    await eventually(disconnected)
    # NATS stays down: a scrape waiting for its reconnect would never answer.
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    # Answered at once: the scrape saw NATS disconnected and asked it nothing (a request
    # would have waited out the scrape's read timeout).
    unreadable = [
        line for line in json_logs if line["message"] == "metrics: consumer state unreadable"
    ]
    assert unreadable and all("not connected" in line["error"] for line in unreadable)
    metrics = {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(response.text)
        for s in f.samples
    }
    assert value(metrics, "keybuzz_metrics_source_up", source="nats") == 0
    assert value(metrics, "keybuzz_metrics_source_up", source="database") == 1


# --- quiet when all is well -------------------------------------------------------------


async def test_an_idle_service_logs_no_errors(
    tenant_sync: Any, json_logs: list[dict[str, Any]]
) -> None:
    # Each consumer's long poll expires with nothing to fetch meanwhile:
    # FastStream 0.7's pull loop logged each expiry as an error with a traceback.
    await asyncio.sleep(tenant_sync.runtime.settings.event_long_poll_seconds + 1.5)
    async with tenant_sync.client() as http:
        assert (await http.get("/ready")).status_code == 200
    noisy = [
        line
        for line in json_logs
        if line["level"] in ("error", "critical")
        and not collected_nats_task(line["logger"], line["message"])
    ]
    assert noisy == []
    assert not [line for line in json_logs if "Traceback" in line.get("error", "")]
