"""Push on delivery: SMTP 250 → the ticket visible over HTTP and its message.received.

Two targets:

- ``embedded`` (default): one poller in this process on the bench's stack, a Dovecot of
  its own (fsync off, as in the tests), POLL_INTERVAL_SECONDS=3600 and every tenant's next
  poll a day away: only the MX's mark (PostgreSQL) and its NOTIFY make a poll happen.
- ``up``: the stack ``make up`` runs (its ports, its development credentials); the
  tenants are the product's first ones, synced by tenant-sync with an FR inbound address
  (as the console's "Sync tenant" does); its poller keeps its own interval (300 s).

Mails go to the MX over a few persistent SMTP connections (as Amazon's relay), at a
constant rate, round-robin over the tenants, one new order (so one new ticket) each.
The clock starts at the 250. ``message.received`` is timed for every mail (a core NATS
subscriber of the subject; the outbox publishes it after the ticket's commit, so it is
also an upper bound of the ticket's visibility); ``GET /api/v1/tickets?orderId=…`` is
polled every 10 ms for a sample of the mails (all of them at 1 mail/s; about five a
second at higher rates, so that the checking does not load the poller it measures).

    .venv/bin/python -m bench bench_push_latency        # ~80 s: 60 mails, 1/s, 10 tenants
    BENCH_PUSH_MANOMANO_EVERY=2 .venv/bin/python -m bench bench_push_latency
        # every second tenant ManoMano's (its relay's mails, one in four its support's,
        # DKIM-signed with a key of the bench's own the poller is given)
    BENCH_PUSH_RATE=200 BENCH_PUSH_TENANTS=1000 BENCH_PUSH_MAILS=12000 \
        .venv/bin/python -m bench bench_push_latency    # the issue's 200 mails/s case
    make up && BENCH_PUSH_TARGET=up .venv/bin/python -m bench bench_push_latency
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import math
import os
import resource
import smtplib
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import dkim
import httpx
import msgspec
import nats
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from keybuzz_devstack import dovecot, infra, stack
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.auth import issue_token

from bench.bench_poller import _make_known
from bench.harness import (
    BenchContext,
    Figure,
    cpu_figures,
    cpu_seconds_by_program,
    cpu_spent,
)

TARGET = os.environ.get("BENCH_PUSH_TARGET", "embedded")
MAILS = int(os.environ.get("BENCH_PUSH_MAILS", "60"))
RATE = float(os.environ.get("BENCH_PUSH_RATE", "1"))  # mails a second
TENANTS = int(os.environ.get("BENCH_PUSH_TENANTS", "10"))
SMTP_CONNECTIONS = int(os.environ.get("BENCH_PUSH_SMTP_CONNECTIONS", "16"))
# Every k-th tenant is ManoMano's (0: none): Amazon's and ManoMano's relays mixed.
MANOMANO_EVERY = int(os.environ.get("BENCH_PUSH_MANOMANO_EVERY", "0"))
DKIM_SELECTOR = "bench"
HTTP_SAMPLES_PER_SECOND = 5.0
DOMAIN = "inbound.keybuzz.test"
SENDER = "bounces@amazonses.com"
VISIBLE_CHECK_SECONDS = 0.01
GIVE_UP_SECONDS = 60.0


@dataclass
class Target:
    """Where the mails go and where the tickets are read."""

    mx_port: int
    poller_url: str
    jwt_secret: str
    nats_url: str
    tenants: list[tuple[str, str]]  # (tenant id, inbound address)
    # Same run: Dovecot's LMTP alone, mails/s over as many sessions as the MX is sent on.
    lmtp_baseline: float | None = None
    dkim_key: bytes = b""  # the bench's own, signing ManoMano's support mails


RUN = f"{uuid.uuid4().int % 9000000 + 1000000}"  # this run's orders are new ones


def _manomano(address: str) -> bool:
    return address.startswith("manomano.")


def _order(n: int, address: str = "") -> str:
    return f"M{RUN}{n:05d}" if _manomano(address) else f"171-{1000000 + n}-{RUN}"


def _mail(address: str, n: int, dkim_key: bytes = b"") -> bytes:
    """A relay mail about one new order (so one new ticket). Rendered from a template: the
    load generator shares the machine's two cores, and ``EmailMessage`` cost it ~1 ms a mail."""
    if _manomano(address):
        return _manomano_mail(address, n, dkim_key)
    order = _order(n)
    return (
        "From: Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>\r\n"
        f"To: {address}\r\n"
        f"Subject: Inquiry from Amazon customer Jean (Order: {order})\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@eu-west-1.amazonses.com>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\nMIME-Version: 1.0\r\n\r\n"
        "------------- Begin message -------------\r\n\r\nWhere is my parcel?\r\n\r\n"
        f"------------- End message -------------\r\n\r\nOrder ID: {order}\r\n"
    ).encode()


def _manomano_mail(address: str, n: int, dkim_key: bytes) -> bytes:
    """ManoMano's relay mail: a buyer's, or (one in four) its support's, DKIM-signed for
    its Zendesk domain (the poller verifies it)."""
    order = _order(n, address)
    support = n % 4 == 3
    sender = (
        "Service Client ManoMano <support@monechelle.zendesk.com>"
        if support
        else f"Camille P. via ManoMano <b{n:07d}@contact.manomano.com>"
    )
    raw = (
        f"From: {sender}\r\nTo: {address}\r\n"
        f"Subject: Nouveau message concernant la commande {order}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@manomano.bench>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0\r\n\r\n"
        f"Bonjour, où en est ma commande {order} ? Merci.\r\n"
    ).encode()
    if not support:
        return raw
    signed: bytes = dkim.sign(
        raw,
        DKIM_SELECTOR.encode(),
        b"monechelle.zendesk.com",
        dkim_key,
        include_headers=[b"from", b"to", b"subject", b"message-id"],
    )
    return signed + raw


def _dkim_key() -> tuple[bytes, str]:
    """(private key PEM, the MANOMANO_DKIM_KEYS value of its public record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    name = f"{DKIM_SELECTOR}._domainkey.monechelle.zendesk.com"
    return pem, json.dumps({name: record})


# --- the embedded target ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _embedded(ctx: BenchContext) -> AsyncIterator[Target]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    spec = dovecot.dovecot_spec(ctx.root / "push-dovecot", imap_port, lmtp_port, fsync=False)
    server = infra.RunningServer(spec, ctx.root / "push-dovecot.log").start(timeout=60)
    try:
        dkim_key, dkim_keys = _dkim_key()
        service = await _poller(ctx, imap_port, lmtp_port, dkim_keys)
        try:
            ids = [f"tpush{i:05d}{uuid.uuid4().hex[:4]}" for i in range(TENANTS)]
            tenants = [
                (t, f"{_label(i)}.{t}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}")
                for i, t in enumerate(ids)
            ]
            await _make_known(service, tenants)
            # Only the MX's mark and its NOTIFY make a poll happen (the sweep is a day away).
            await service.runtime.pool.execute(
                "UPDATE poller_poll_status SET next_poll_at = now() + interval '1 day'"
            )
            settings = service.runtime.settings
            baseline = await asyncio.to_thread(_lmtp_alone, lmtp_port, min(MAILS, 3000))
            yield Target(
                settings.mx_port,
                service.url,
                settings.jwt_secret,
                ctx.nats_url,
                tenants,
                baseline,
                dkim_key,
            )
        finally:
            await service.stop()
    finally:
        server.stop()


def _label(index: int) -> str:
    return "manomano" if MANOMANO_EVERY and index % MANOMANO_EVERY == 0 else "amazon"


async def _poller(
    ctx: BenchContext, imap_port: int, lmtp_port: int, dkim_keys: str = ""
) -> RunningService:
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
            "POLL_ENABLED": os.environ.get("BENCH_PUSH_POLLING", "true"),  # false: the MX alone
            "IMAP_PORT": str(imap_port),
            "LMTP_PORT": str(lmtp_port),
            "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD,
            "MANOMANO_DKIM_KEYS": dkim_keys,
        },
    )


def _lmtp_alone(lmtp_port: int, mails: int) -> float:
    """Mails/s Dovecot stores over LMTP alone, on SMTP_CONNECTIONS kept sessions, into
    folders of their own (no poller reads them): what the MX hands its mail to."""
    per_session = max(1, mails // SMTP_CONNECTIONS)

    def session(k: int) -> None:
        with smtplib.LMTP("127.0.0.1", lmtp_port, local_hostname="bench") as lmtp:
            for n in range(per_session):
                raw = _mail(f"baseline-{k}@{DOMAIN}", n)
                lmtp.sendmail(SENDER, [f"keybuzz+baseline-{n % 1000}@x"], raw)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(SMTP_CONNECTIONS) as pool:
        list(pool.map(session, range(SMTP_CONNECTIONS)))
    return per_session * SMTP_CONNECTIONS / (time.perf_counter() - started)


# --- the make up target ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _made_up(_: BenchContext) -> AsyncIterator[Target]:
    """The running ``make up`` stack: its product's first tenants, synced with an address."""
    internal = {"X-Internal-Key": stack.DEV_DEFAULTS["INTERNAL_API_KEY"]}
    url = f"http://127.0.0.1:{stack.SERVICES['tenant-sync']}/api/v1/tenants"
    async with httpx.AsyncClient(headers=internal, timeout=30) as http:
        results = (await http.post(f"{url}/sync-all")).raise_for_status().json()["results"]
        product = sorted({*results["created"], *results["updated"], *results["skipped"]})
        tenants = []
        for tenant_id in product[:TENANTS]:
            body = {"tenantId": tenant_id, "createInboundAddress": True, "country": "FR"}
            (await http.post(f"{url}/sync", json=body)).raise_for_status()
            status = (await http.get(f"{url}/status/{tenant_id}")).raise_for_status().json()
            fr = [a for a in status["inboundAddresses"] if a["country"] == "FR"]
            tenants.append((tenant_id, fr[0]["email"]))
    yield Target(
        stack.MX_PORT,
        f"http://127.0.0.1:{stack.SERVICES['poller']}",
        stack.DEV_DEFAULTS["JWT_SECRET"],
        stack.operator_nats_url(),
        tenants,
    )


# --- measuring --------------------------------------------------------------------------------


class Events:
    """When each order's ``message.received`` arrived (one order per mail).

    Each mail waits on a future the subscriber resolves: a task per mail polling a dict
    every few milliseconds cost the measuring process a core at 200 mails/s, and capped
    the rate it could send at (the MX's "46–65 mails/s" of 2026-11-23's first runs).
    """

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Future[float]] = {}

    def _arrival(self, order: str) -> asyncio.Future[float]:
        if order not in self.arrived:
            self.arrived[order] = asyncio.get_running_loop().create_future()
        return self.arrived[order]

    async def on_message(self, message: Any) -> None:
        arrival = self._arrival(json.loads(message.data).get("orderId"))
        if not arrival.done():
            arrival.set_result(time.perf_counter())

    async def seconds_after(self, order: str, accepted: float) -> float | None:
        remaining = GIVE_UP_SECONDS - (time.perf_counter() - accepted)
        try:
            arrived = await asyncio.wait_for(asyncio.shield(self._arrival(order)), remaining)
        except TimeoutError:
            return None
        return max(0.0, arrived - accepted)


class SmtpSession:
    """A kept SMTP session sending one mail at a time, ``MAIL``/``RCPT``/``DATA`` pipelined
    (RFC 2920, as MTAs send to a server that offers it). Lighter than aiosmtplib (a round
    trip per command), so that the sender takes less of the cores the MX is measured on."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> SmtpSession:
        session = cls(*await asyncio.open_connection("127.0.0.1", port))
        await session.expect(220)
        session.writer.write(b"EHLO bench.example\r\n")
        await session.expect(250)
        return session

    async def send(self, raw: bytes, to: str) -> None:
        self.writer.write(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode())
        for wanted in (250, 250, 354):
            await self.expect(wanted)
        self.writer.write(raw.replace(b"\r\n.", b"\r\n..") + b".\r\n")  # raw ends in CRLF
        await self.expect(250)

    async def expect(self, wanted: int) -> None:
        while (line := await self.reader.readline())[3:4] == b"-":
            pass
        if line[:3] != str(wanted).encode():
            raise RuntimeError(f"the MX answered {line!r}, not {wanted}")

    async def close(self) -> None:
        self.writer.write(b"QUIT\r\n")
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class Mailer:
    """A few SMTP sessions kept open, each sending one mail at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: asyncio.Queue[SmtpSession] = asyncio.Queue()

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.idle.put_nowait(await SmtpSession.open(self.port))

    async def send(self, raw: bytes, to: str) -> None:
        session = await self.idle.get()
        try:
            await session.send(raw, to)
        finally:
            self.idle.put_nowait(session)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


class Tickets:
    """Whether a tenant's ticket of an order is listed over HTTP."""

    def __init__(self, target: Target, http: httpx.AsyncClient) -> None:
        self.target, self.http = target, http

    async def listed(self, tenant_id: str, order: str) -> bool:
        token = issue_token(self.target.jwt_secret, "bench", tenants=[tenant_id])
        headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant_id}
        try:
            response = await self.http.get(
                "/api/v1/tickets", headers=headers, params={"orderId": order, "limit": 1}
            )
        except httpx.RemoteProtocolError:  # a keep-alive connection the server just closed
            return False
        response.raise_for_status()
        return bool(response.json()["items"])

    async def seconds_after(self, tenant_id: str, order: str, accepted: float) -> float | None:
        while not await self.listed(tenant_id, order):
            if time.perf_counter() - accepted > GIVE_UP_SECONDS:
                return None
            await asyncio.sleep(VISIBLE_CHECK_SECONDS)
        return time.perf_counter() - accepted


@dataclass
class Timing:
    accepted: float  # the MX's 250 (perf_counter)
    event: float | None  # SMTP 250 → message.received (None: not within GIVE_UP_SECONDS)
    ticket: float | None  # SMTP 250 → ticket listed over HTTP (sampled mails only)
    sampled: bool


async def _one_mail(
    mailer: Mailer,
    events: Events,
    tickets: Tickets,
    tenant: tuple[str, str],
    n: int,
    sampled: bool,
    key: bytes = b"",
) -> Timing:
    tenant_id, address = tenant
    await mailer.send(_mail(address, n, key), address)
    accepted = time.perf_counter()
    order = _order(n, address)
    ticket = await tickets.seconds_after(tenant_id, order, accepted) if sampled else None
    return Timing(accepted, await events.seconds_after(order, accepted), ticket, sampled)


async def _measure(target: Target) -> list[Timing]:
    events = Events()
    subscriber = await nats.connect(target.nats_url)
    await subscriber.subscribe("message.received", cb=events.on_message)
    mailer = Mailer(target.mx_port)
    await mailer.open(min(SMTP_CONNECTIONS, MAILS))
    sample_every = max(1, round(RATE / HTTP_SAMPLES_PER_SECOND))
    limits = httpx.Limits(max_connections=64)
    try:
        async with httpx.AsyncClient(base_url=target.poller_url, limits=limits) as http:
            tickets = Tickets(target, http)
            start = time.perf_counter()
            runs = []
            for n in range(MAILS):
                await asyncio.sleep(max(0.0, start + n / RATE - time.perf_counter()))
                tenant = target.tenants[n % len(target.tenants)]
                sampled = n % sample_every == 0
                one = _one_mail(mailer, events, tickets, tenant, n, sampled, target.dkim_key)
                runs.append(asyncio.create_task(one))
            return list(await asyncio.gather(*runs))
    finally:
        await mailer.close()
        await subscriber.close()


async def run(ctx: BenchContext) -> list[Figure]:
    target = _made_up(ctx) if TARGET == "up" else _embedded(ctx)
    async with target as where:
        cpu_before = cpu_seconds_by_program()
        measured, load_cpu = await _measured_by_another_process(where)
        cpu = cpu_spent(cpu_before, cpu_seconds_by_program())
        cpu["load generator (SMTP sender, checks)"] = load_cpu
    tenants = len(where.tenants)
    mixed = f", every {MANOMANO_EVERY} a ManoMano tenant" if MANOMANO_EVERY else ""
    note = f"{TARGET}: {MAILS} mails at {RATE:g}/s over {tenants} tenants{mixed}"
    sampled = [m.ticket for m in measured if m.sampled]
    sending = max(m.accepted for m in measured) - min(m.accepted for m in measured)
    return [
        {
            "name": "push: mails accepted by the MX a second",
            "value": MAILS / max(sending, 1e-9),
            "unit": "mails/s",
            "baseline": where.lmtp_baseline,
            "note": f"asked: {RATE:g}/s; baseline: Dovecot's LMTP alone, as many sessions",
        },
        *_figures(f"SMTP 250 → ticket over HTTP ({len(sampled)} sampled)", sampled, note),
        *_figures("SMTP 250 → message.received on NATS", [m.event for m in measured], note),
        # Only the embedded target's processes are all this run's (under make up, the
        # services are not this process's children, and the stack here serves nothing).
        *(cpu_figures("push", cpu, MAILS, scale=1000, unit="ms") if TARGET != "up" else []),
    ]


async def _measured_by_another_process(target: Target) -> tuple[list[Timing], float]:
    """The mails are sent and timed by a child process: the embedded poller keeps this
    process's event loop to itself (as under ``make up``, where it has its own). Also
    returns the CPU seconds that process spent (it shares the machine's cores)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_push_latency",
        "measure",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(msgspec.json.encode(target))
    if process.returncode != 0:
        raise RuntimeError(f"the measuring process failed ({process.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return msgspec.json.decode(out, type=list[Timing]), cpu


def _measure_main() -> None:
    target = msgspec.json.decode(sys.stdin.buffer.read(), type=Target)
    timings = asyncio.run(_measure(target))
    sys.stdout.buffer.write(msgspec.json.encode(timings))


def _figures(what: str, seconds: list[float | None], note: str) -> list[Figure]:
    """p50, p99, max; a mail not seen within GIVE_UP_SECONDS counts as infinitely late."""
    ordered = sorted(math.inf if s is None else s for s in seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    late = sum(1 for s in ordered if math.isinf(s))
    return [
        {
            "name": f"push: {what}, p50",
            "value": statistics.median(ordered),
            "unit": "s",
            "note": note,
        },
        {"name": f"push: {what}, p99", "value": p99, "unit": "s", "note": note},
        {"name": f"push: {what}, max", "value": ordered[-1], "unit": "s", "note": note},
        {"name": f"push: {what}, over {GIVE_UP_SECONDS:g} s", "value": late, "unit": "mails"},
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["measure"]:
    _measure_main()
