"""Push on delivery: SMTP 250 → the ticket visible over HTTP, at one mail a second.

The poller runs with POLL_INTERVAL_SECONDS=3600 and every tenant's next poll an hour
away: only the MX's mark (PostgreSQL) and its NOTIFY can make a poll happen. Each mail
goes to the poller's MX (aiosmtplib, as Amazon's relay); the clock starts at the 250
and stops when ``GET /api/v1/tickets`` of its tenant lists the new ticket (checked every
10 ms); apart, when its ``message.received`` reaches a core NATS subscriber of the
subject (published by the outbox relay to JetStream). A Dovecot of its own (fsync off,
as in the tests).

    .venv/bin/python -m bench bench_push_latency   # ~80 s; BENCH_PUSH_MAILS=60
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from keybuzz_devstack import dovecot, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.auth import issue_token
from keybuzz_shared.events import encode_event, event_headers

from bench.harness import BenchContext, Figure, tenant_synced

MAILS = int(os.environ.get("BENCH_PUSH_MAILS", "60"))
TENANTS = 10  # mails go round-robin: a tenant's next mail comes 10 s after its previous one
RATE = 1.0  # mails a second
DOMAIN = "inbound.keybuzz.test"
VISIBLE_CHECK_SECONDS = 0.01
GIVE_UP_SECONDS = 60.0


def _order(n: int) -> str:
    return f"171-{1000000 + n}-1234567"


def _mail(address: str, n: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>"
    message["To"] = address
    order = _order(n)  # one order, so one new ticket, per mail
    message["Subject"] = f"Inquiry from Amazon customer Jean (Order: {order})"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@eu-west-1.amazonses.com>"
    message.set_content(
        "------------- Begin message -------------\n\nWhere is my parcel?\n\n"
        f"------------- End message -------------\n\nOrder ID: {order}\n"
    )
    return message.as_bytes()


async def _poller(ctx: BenchContext, imap_port: int, lmtp_port: int) -> RunningService:
    return await run_in_process(
        DEFINITION,
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": await ctx.make_database("poller"),
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "LOG_LEVEL": "WARNING",
            "MX_PORT": str(infra.free_port()),
            "POLL_INTERVAL_SECONDS": "3600",
            "IMAP_PORT": str(imap_port),
            "LMTP_PORT": str(lmtp_port),
            "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD,
        },
    )


async def _make_known(service: RunningService, tenants: list[tuple[str, str]]) -> None:
    js = (await service.operator()).jetstream()  # as tenant-sync would
    for tenant_id, address in tenants:
        event = tenant_synced(tenant_id, address)
        await js.publish(event.type, encode_event(event), headers=event_headers(event))
    pool = service.runtime.pool
    while await pool.fetchval("SELECT count(*) FROM poller_poll_status") < len(tenants):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await pool.execute("UPDATE poller_poll_status SET next_poll_at = now() + interval '1 day'")


async def _tickets(service: RunningService, tenant_id: str) -> int:
    token = issue_token(service.runtime.settings.jwt_secret, "bench", tenants=[tenant_id])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant_id}
    async with service.client() as http:
        response = await http.get("/api/v1/tickets", headers=headers, params={"limit": 100})
    response.raise_for_status()
    return len(response.json()["items"])


class Events:
    """When each order's ``message.received`` arrived (one order per mail)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def on_message(self, message: Any) -> None:
        order = json.loads(message.data).get("orderId")
        self.arrived.setdefault(order, time.perf_counter())

    async def seconds_after(self, order: str, accepted: float) -> float:
        while order not in self.arrived:
            if time.perf_counter() - accepted > GIVE_UP_SECONDS:
                raise AssertionError(f"no message.received for {order}")
            await asyncio.sleep(VISIBLE_CHECK_SECONDS)
        return max(0.0, self.arrived[order] - accepted)


async def _one_mail(
    service: RunningService, events: Events, tenant: tuple[str, str], n: int
) -> tuple[float, float]:
    """Seconds from the MX's 250 to the tenant's ticket list showing one more ticket, and to
    the mail's message.received."""
    tenant_id, address = tenant
    before = await _tickets(service, tenant_id)
    await aiosmtplib.send(
        _mail(address, n),
        sender="bounces@amazonses.com",
        recipients=[address],
        hostname="127.0.0.1",
        port=service.runtime.settings.mx_port,
        start_tls=False,
        use_tls=False,
        timeout=30,
    )
    accepted = time.perf_counter()
    while await _tickets(service, tenant_id) <= before:
        if time.perf_counter() - accepted > GIVE_UP_SECONDS:
            raise AssertionError(f"mail {n} not a ticket within {GIVE_UP_SECONDS} s")
        await asyncio.sleep(VISIBLE_CHECK_SECONDS)
    visible = time.perf_counter() - accepted
    return visible, await events.seconds_after(_order(n), accepted)


async def _measure(service: RunningService) -> list[tuple[float, float]]:
    ids = [f"tpush{i:03d}{uuid.uuid4().hex[:4]}" for i in range(TENANTS)]
    tenants = [(t, f"amazon.{t}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}") for t in ids]
    await _make_known(service, tenants)
    events = Events()
    await (await service.operator()).subscribe("message.received", cb=events.on_message)
    start = time.perf_counter()
    runs = []
    for n in range(MAILS):
        await asyncio.sleep(max(0.0, start + n / RATE - time.perf_counter()))
        runs.append(asyncio.create_task(_one_mail(service, events, tenants[n % TENANTS], n)))
    return list(await asyncio.gather(*runs))


async def run(ctx: BenchContext) -> list[Figure]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    spec = dovecot.dovecot_spec(ctx.root / "push-dovecot", imap_port, lmtp_port, fsync=False)
    server = infra.RunningServer(spec, ctx.root / "push-dovecot.log").start(timeout=60)
    try:
        service = await _poller(ctx, imap_port, lmtp_port)
        try:
            measured = await _measure(service)
        finally:
            await service.stop()
    finally:
        server.stop()
    note = f"{MAILS} mails at {RATE:g}/s over {TENANTS} tenants, POLL_INTERVAL_SECONDS=3600"
    return [
        *_figures("SMTP 250 → ticket over HTTP", [m[0] for m in measured], note),
        *_figures("SMTP 250 → message.received on NATS", [m[1] for m in measured], note),
    ]


def _figures(what: str, seconds: list[float], note: str) -> list[Figure]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return [
        {
            "name": f"push: {what}, p50",
            "value": statistics.median(ordered),
            "unit": "s",
            "note": note,
        },
        {"name": f"push: {what}, p99", "value": p99, "unit": "s", "note": note},
        {"name": f"push: {what}, max", "value": ordered[-1], "unit": "s", "note": note},
    ]
