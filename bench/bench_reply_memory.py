"""The poller's memory under concurrent maximum-size replies (docs/SECURITY.md, "Replies:
bounded attachments …").

A poller runs as a process of its own (``python -m keybuzz_poller``, polling off, the reply
sender on), so its RSS is the replies' and nothing else's; a Dovecot of its own, and an SMTP
sink in this process as Amazon's relay. ``BENCH_REPLY_TENANTS`` (default 10) tenants each
get a buyer's ticket; then ``BENCH_REPLY_COUNT`` (default 50) replies at once, spread over
them, each with Amazon's maximum of attachments (10 MiB, one PDF: a 13.3 MiB body). A reply
answered 429/503 is sent again after its Retry-After, until all are queued; the run ends
when the sink has received every one. Measured, twice in one run:

1. with the default budgets (REPLY_MEMORY_BUDGET_BYTES, REPLY_TENANT_MEMORY_BUDGET_BYTES,
   REPLY_SEND_BATCH_BYTES);
2. with the budgets out of reach (1 TiB): every reply taken at once, as without them.

Each: the process's RSS once started and idle, its peak (VmHWM, reset after the idle
reading), refusals, and seconds until the sink has all.

Run by hand: ``.venv/bin/python -m bench bench_reply_memory`` (about two minutes; the second
pass needs a few GB of free memory: ``BENCH_REPLY_UNBOUNDED=0`` skips it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiosmtplib
import httpx
import nats
from aiosmtpd.controller import Controller
from keybuzz_devstack import dovecot, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_poller.replies.checks import MAX_ATTACHMENT_BYTES
from keybuzz_shared.auth import issue_token
from keybuzz_shared.events import encode_event, event_headers
from keybuzz_shared.settings import DEV_JWT_SECRET

from bench.bench_mx_memory import _memory, _poller, _reset_peak
from bench.harness import BenchContext, Figure, tenant_synced

TENANTS = int(os.environ.get("BENCH_REPLY_TENANTS", "10"))
REPLIES = int(os.environ.get("BENCH_REPLY_COUNT", "50"))
UNBOUNDED = os.environ.get("BENCH_REPLY_UNBOUNDED", "1") != "0"
DOMAIN = "inbound.keybuzz.test"
OUT_OF_REACH = str(2**40)


@dataclass
class Sink:
    """Amazon's relay, as far as the poller can tell: takes every mail, keeps none."""

    received: int = 0
    bytes: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None
    expected: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received += 1
        self.bytes += len(envelope.original_content or b"")
        if self.received >= self.expected and self.loop is not None:
            self.loop.call_soon_threadsafe(self.done.set)
        return "250 2.0.0 OK"


def _buyer_mail(address: str, n: int) -> bytes:
    order_id = f"402-{n:07d}-{n * 7 % 10**7:07d}"
    return (
        f"From: Buyer - Amazon Marketplace <b{n}.{uuid.uuid4().hex[:8]}@marketplace.amazon.fr>\r\n"
        f"To: {address}\r\n"
        f"Subject: Demande de renseignements (Commande : {order_id})\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@bench.keybuzz.test>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "\r\n"
        f"Bonjour, où en est ma commande {order_id} ? Merci.\r\n"
    ).encode()


def _reply_body() -> bytes:
    content = b"%PDF-1.4\n" + os.urandom(MAX_ATTACHMENT_BYTES - 9)
    attachment = {
        "filename": "facture.pdf",
        "contentType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }
    return json.dumps({"text": "Votre facture est jointe.", "attachments": [attachment]}).encode()


def _headers(tenant_id: str) -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, "bench-agent", tenants=[tenant_id])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant_id}


async def _ticket(http: httpx.AsyncClient, nc: Any, mx_port: int, n: int) -> tuple[str, str]:
    """A tenant with one buyer's ticket and an approved sender: (tenant id, ticket id)."""
    tenant_id = f"bench{n:03d}{uuid.uuid4().hex[:6]}"
    address = f"amazon.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"
    event = tenant_synced(tenant_id, address)
    await nc.jetstream().publish(event.type, encode_event(event), headers=event_headers(event))
    for _ in range(300):  # until the MX knows the address
        try:
            await aiosmtplib.send(
                _buyer_mail(address, n),
                sender="bounces@amazonses.com",
                recipients=[address],
                hostname="127.0.0.1",
                port=mx_port,
            )
            break
        except aiosmtplib.SMTPException:
            await asyncio.sleep(0.1)
    headers = _headers(tenant_id)
    polled = await http.post("/api/v1/poller/poll", headers=headers)
    assert polled.json()["stored"] == 1, polled.text
    ticket = (await http.get("/api/v1/tickets", headers=headers)).json()["items"][0]["id"]
    sender = await http.put(
        "/api/v1/poller/settings", json={"replyFromAddress": "shop@example.com"}, headers=headers
    )
    assert sender.status_code == 200, sender.text
    return tenant_id, str(ticket)


@dataclass
class Answers:
    refused: dict[int, int] = field(default_factory=dict)  # status -> count
    dropped: int = 0  # connections closed while uploading (refused before the body was read)


async def _reply_until_queued(
    http: httpx.AsyncClient, tenant_id: str, ticket_id: str, body: bytes, answers: Answers
) -> None:
    while True:
        try:
            response = await http.post(
                f"/api/v1/tickets/{ticket_id}/replies",
                content=body,
                headers={**_headers(tenant_id), "Content-Type": "application/json"},
            )
        except httpx.TransportError:
            answers.dropped += 1
            await asyncio.sleep(2)
            continue
        if response.status_code == 202:
            return
        assert response.status_code in (429, 503), response.text
        answers.refused[response.status_code] = answers.refused.get(response.status_code, 0) + 1
        await asyncio.sleep(float(response.headers["retry-after"]))


async def run(ctx: BenchContext) -> list[Figure]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    spec = dovecot.dovecot_spec(ctx.root / "reply-dovecot", imap_port, lmtp_port, fsync=False)
    server = infra.RunningServer(spec, ctx.root / "reply-dovecot.log").start(timeout=60)
    sink = Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=infra.free_port(), data_size_limit=None)
    relay.start()
    body = _reply_body()
    try:
        figures = await _measure(ctx, (imap_port, lmtp_port), sink, relay.port, body, {}, "")
        if UNBOUNDED:
            out_of_reach = {
                "REPLY_MEMORY_BUDGET_BYTES": OUT_OF_REACH,
                "REPLY_TENANT_MEMORY_BUDGET_BYTES": OUT_OF_REACH,
                "REPLY_SEND_BATCH_BYTES": OUT_OF_REACH,
            }
            figures += await _measure(
                ctx, (imap_port, lmtp_port), sink, relay.port, body, out_of_reach, "budgets off: "
            )
        return figures
    finally:
        relay.stop()
        server.stop()


async def _measure(
    ctx: BenchContext,
    mail_ports: tuple[int, int],
    sink: Sink,
    relay_port: int,
    body: bytes,
    budgets: dict[str, str],
    label: str,
) -> list[Figure]:
    mx_port, http_port = infra.free_port(), infra.free_port()
    environ = {
        "NATS_URL": ctx.nats_url,
        "DATABASE_URL": await ctx.make_database("replies"),
        "VAULT_ADDR": ctx.vault_addr,
        "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
        "LOG_LEVEL": "ERROR",
        "POLLER_PORT": str(http_port),
        "MX_PORT": str(mx_port),
        "MX_SPOOL_DIR": str(ctx.root),
        "POLL_ENABLED": "false",
        "IMAP_PORT": str(mail_ports[0]),
        "LMTP_PORT": str(mail_ports[1]),
        "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD,
        "SMTP_RELAY_PORT": str(relay_port),
        **budgets,
    }
    process = await _poller(ctx, environ)
    sink.received, sink.bytes, sink.expected = 0, 0, REPLIES
    sink.done.clear()
    sink.loop = asyncio.get_running_loop()
    answers = Answers()
    limits = httpx.Limits(max_connections=REPLIES + 10)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}", timeout=600, limits=limits
        ) as http:
            nc = await nats.connect(ctx.nats_url)
            tickets = [await _ticket(http, nc, mx_port, n) for n in range(TENANTS)]
            await nc.close()
            await asyncio.sleep(1)
            idle = _memory(process.pid, "VmRSS")
            _reset_peak(process.pid)
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    _reply_until_queued(http, *tickets[n % TENANTS], body, answers)
                    for n in range(REPLIES)
                )
            )
            queued = time.perf_counter() - start
            await asyncio.wait_for(sink.done.wait(), 600)
            seconds = time.perf_counter() - start
            await asyncio.sleep(1)
            peak = _memory(process.pid, "VmHWM")
            after = _memory(process.pid, "VmRSS")
    finally:
        process.terminate()
        await process.wait()
    print(f"{label}refused {answers.refused}, dropped {answers.dropped}", file=sys.stderr)
    what = (
        f"{REPLIES} concurrent {MAX_ATTACHMENT_BYTES // 2**20} MiB replies over {TENANTS} tenants"
    )
    refused = ", ".join(f"{n} × {status}" for status, n in sorted(answers.refused.items()))
    return [
        {"name": f"{label}poller RSS, idle", "value": idle, "unit": "MiB"},
        {
            "name": f"{label}poller peak RSS (VmHWM), {what}: queued and sent",
            "value": peak,
            "unit": "MiB",
            "baseline": idle,
            "note": f"refused {refused or 'none'}; all queued in {queued:.1f} s, "
            f"sent in {seconds:.1f} s ({sink.bytes / 2**20:.0f} MiB)",
        },
        {"name": f"{label}poller RSS after", "value": after, "unit": "MiB", "baseline": idle},
    ]
