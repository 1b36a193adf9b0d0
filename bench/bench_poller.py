"""The poller's mail path at volume: N tenants × M relay mails in Dovecot → tickets + events.

Before the clock starts: a Dovecot of its own (the dev stack's generated
config), the mails delivered straight into each tenant's folder over LMTP
(``DELIVERY_SESSIONS`` sessions in parallel; going through the MX is not what is
measured), and the tenants made known to the poller by ``tenant.synced`` (a first
poller instance with polling off). Measured:

1. throughput: a poller instance with polling on, from the moment every tenant is
   made due until every mail is a ticket message and its ``message.received`` is
   on JetStream. Baselines, same run and same count: raw JetStream
   publish+consume+ack, and a bulk IMAP read of the same mails
   (``UID FETCH n:m BODY.PEEK[]``, 50 mails a command, per folder, one connection).
   With it, the CPU per mail of each program of the run (the poller, its parse
   workers, PostgreSQL, Dovecot, NATS), their sum, and PostgreSQL's by role: a figure
   that load does not swamp the way it does the rates; and each baseline's CPU a
   message by program (its publish apart from its fetch and acks), from which the
   floor under a mail's path (an IMAP read and a JetStream publish) and the CPU a mail
   left at 0.5× of the slower baseline on two cores;
2. steady state: the same tenants (their folders read, so polls find nothing new)
   polled every ``I`` seconds for ``STEADY_ROUNDS`` intervals, for each ``I`` of
   ``BENCH_POLLER_STEADY_INTERVALS``: polls per second held and the poll lag
   (completed − scheduled) p50/p99. N tenants every I s is the load of N × 60 / I
   tenants at the default 60 s interval.

``POLL_CONCURRENCY`` and ``DATABASE_POOL_SIZE`` in the environment go to the poller (to
compare values; its defaults otherwise).
``BENCH_POLLER_TENANTS`` / ``BENCH_POLLER_MAILS`` scale it (defaults 100 × 20,
about a minute here; the issue's size is 1,000 × 100).
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import aioimaplib
from keybuzz_devstack import dovecot, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_poller.inbound.addresses import INBOUND_HEADER, folder_for
from keybuzz_poller.polling.store import DUE_CHANNEL
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.events import encode_event, event_headers

from bench.harness import (
    STATEMENTS,
    BenchContext,
    Figure,
    JetStreamRoundTrip,
    cpu_figures,
    cpu_seconds_by_process,
    cpu_seconds_by_program,
    cpu_spent,
    cpu_spent_by_process,
    jetstream_round_trip,
    machine_busy_seconds,
    sample_poll_lags,
    tenant_synced,
    timed,
)

TENANTS = int(os.environ.get("BENCH_POLLER_TENANTS", "100"))
MAILS = int(os.environ.get("BENCH_POLLER_MAILS", "20"))
STEADY_INTERVALS = [
    int(i) for i in os.environ.get("BENCH_POLLER_STEADY_INTERVALS", "10,5,2").split(",") if i
]
STEADY_ROUNDS = 3
DELIVERY_SESSIONS = 4
# maildir: the mail files written into Dovecot's Maildir (seconds for 100,000 mails);
# lmtp: over LMTP, DELIVERY_SESSIONS sessions at once (~120-270 mails/s here).
DELIVERY = os.environ.get("BENCH_POLLER_DELIVERY", "maildir")
DOMAIN = "inbound.keybuzz.test"
_PASSED_SETTINGS = {"POLL_CONCURRENCY", "DATABASE_POOL_SIZE"}
# The baseline reads with aioimaplib, 50 mails a command, as the poller did before it had its
# own client (aioimaplib overflows its recursion on a large response read at once).
FETCH_CHUNK = 50
STATEMENT_ROWS = 18  # the costliest statements shown with BENCH_STATEMENTS=1
STATEMENT_CHARS = 110


@dataclass
class _Read:
    """A baseline's read of every folder: seconds on the clock, mails read, and the CPU
    seconds each program spent meanwhile (``cpu_spent_by_process``)."""

    seconds: float
    mails: int
    cpu: dict[str, float]


def _postgres_by_role() -> dict[int, tuple[str, float]]:
    """PostgreSQL's processes by what each does (its title: ``postgres: walwriter``, a
    backend's ``postgres: <user> <database> <client> <state>``), as
    ``cpu_seconds_by_process`` gives them: where the server's CPU a mail goes. A process
    that ended meanwhile (an autovacuum worker) is not counted."""
    roles = {}
    for pid, (program, seconds) in cpu_seconds_by_process().items():
        if program != "postgres":
            continue
        try:
            title = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        words = title.split("\0")[0].removeprefix("postgres: ").split()
        role = "backends" if len(words) > 2 and "(" in words[2] else " ".join(words[:2])
        roles[pid] = (f"postgres {role}" if words else "postgres", seconds)
    return roles


def _tenant(i: int) -> tuple[str, str]:
    tenant_id = f"bench{i:05d}"
    return tenant_id, f"amazon.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"


def _mail(address: str, n: int) -> bytes:
    """A French relay mail as Amazon sends it (formatted, not built with ``email``: 100,000
    of them are set-up, and EmailMessage costs more than the delivery)."""
    order_id = f"402-{n:07d}-{n * 7 % 10**7:07d}"
    return (
        f"{INBOUND_HEADER}: {address}\r\n"
        f"From: Buyer - Amazon Marketplace <b{n}@marketplace.amazon.fr>\r\n"
        "To: seller@example.com\r\n"
        f"Subject: Demande de renseignements (Commande : {order_id})\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@bench.keybuzz.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "------------- Début du message -------------\r\n"
        f"Bonjour, où en est ma commande {order_id} ? Merci.\r\n"
        "------------- Fin du message -------------\r\n"
    ).encode()


def _deliver(lmtp_port: int, tenants: list[tuple[int, str, str]]) -> None:
    """Blocking (run in a thread): these tenants' mails into their folders, one LMTP session."""
    with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=60) as lmtp:
        for i, tenant_id, address in tenants:
            rcpt = f"{dovecot.MAIL_USER}+{folder_for(tenant_id)}@localhost"
            for m in range(MAILS):
                lmtp.sendmail("relay@marketplace.amazon.fr", [rcpt], _mail(address, i * MAILS + m))


async def _deliver_all(lmtp_port: int, maildir: Path, tenants: list[tuple[str, str]]) -> float:
    """Every tenant's mails into its folder; seconds taken."""
    numbered = [(i, t, a) for i, (t, a) in enumerate(tenants)]
    if DELIVERY == "maildir":
        return await timed(lambda: asyncio.to_thread(_write_maildir, maildir, numbered))
    shares = [numbered[k::DELIVERY_SESSIONS] for k in range(DELIVERY_SESSIONS)]
    return await timed(
        lambda: asyncio.gather(*(asyncio.to_thread(_deliver, lmtp_port, s) for s in shares))
    )


def _write_maildir(maildir: Path, tenants: list[tuple[int, str, str]]) -> None:
    """Blocking: each mail as a file in ``.<folder>/new`` (Maildir++, Dovecot's layout here),
    written to ``tmp`` and renamed, as any Maildir delivery agent does; owned by the mail user."""
    owner = maildir.parent.stat()
    for i, tenant_id, address in tenants:
        folder = maildir / f".{folder_for(tenant_id)}"
        for sub in ("", "cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            os.chown(folder / sub, owner.st_uid, owner.st_gid)
        for m in range(MAILS):
            name = f"{int(time.time())}.M{m}P{i}.bench"
            temporary = folder / "tmp" / name
            temporary.write_bytes(_mail(address, i * MAILS + m))
            os.chown(temporary, owner.st_uid, owner.st_gid)
            temporary.rename(folder / "new" / name)
    os.chown(maildir, owner.st_uid, owner.st_gid)


async def _index_folders(port: int, tenants: list[tuple[str, str]]) -> None:
    """Untimed: a SELECT per folder, so Dovecot files the new mail and assigns UIDs (LMTP
    delivery does that as it stores); neither baseline nor poller pays for it."""
    client = aioimaplib.IMAP4("127.0.0.1", port, timeout=120)
    await client.wait_hello_from_server()
    await client.login(dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD)
    for tenant_id, _ in tenants:
        await client.select(folder_for(tenant_id))
    await client.logout()


async def _bulk_imap_read(port: int, tenants: list[tuple[str, str]]) -> _Read:
    """Every folder read whole over one IMAP connection: seconds, mails read, CPU."""
    client = aioimaplib.IMAP4("127.0.0.1", port, timeout=60)
    await client.wait_hello_from_server()
    await client.login(dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD)
    # The CPU is read while the connection is open: its Dovecot process ends with it.
    cpu_before = cpu_seconds_by_process()
    start = time.perf_counter()
    read = 0
    for tenant_id, _ in tenants:
        await client.select(folder_for(tenant_id))
        # Fresh folders: UIDs 1..MAILS. Ranges of FETCH_CHUNK, as the poller fetches:
        # aioimaplib overflows its recursion on a large response read at once.
        for first in range(1, MAILS + 1, FETCH_CHUNK):
            last = min(first + FETCH_CHUNK - 1, MAILS)
            fetched = await client.uid("fetch", f"{first}:{last}", "(UID BODY.PEEK[])")
            read += sum(isinstance(line, bytearray) for line in fetched.lines)
    seconds = time.perf_counter() - start
    cpu = cpu_spent_by_process(cpu_before, cpu_seconds_by_process())
    await client.logout()
    return _Read(seconds, read, cpu)


async def _poller_client_read(port: int, tenants: list[tuple[str, str]]) -> _Read:
    """The same read with the poller's own IMAP client: one SELECT + FETCH round trip per
    folder, one connection (what a poll costs in IMAP, without storing anything)."""
    account = ImapAccount(
        "127.0.0.1", port, dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD, timeout=60, pool_size=1
    )
    first_tenant, _ = tenants[0]
    # Connected and logged in off the clock, as the bulk read; its first folder read again.
    await account.fetch_new(folder_for(first_tenant), None, limit=1)
    cpu_before = cpu_seconds_by_process()
    start = time.perf_counter()
    read = 0
    for tenant_id, _ in tenants:
        read += len((await account.fetch_new(folder_for(tenant_id), None, limit=MAILS)).mails)
    seconds = time.perf_counter() - start
    cpu = cpu_spent_by_process(cpu_before, cpu_seconds_by_process())
    await account.close()
    return _Read(seconds, read, cpu)


async def _poller(
    ctx: BenchContext, database: str, mail: dict[str, str], poll: bool, **settings: str
) -> RunningService:
    return await run_in_process(
        DEFINITION,
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": database,
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "LOG_LEVEL": "WARNING",
            "MX_PORT": str(infra.free_port()),
            "POLL_ENABLED": "true" if poll else "false",
            **{k: v for k, v in os.environ.items() if k in _PASSED_SETTINGS},
            **mail,
            **settings,
        },
    )


async def _make_known(service: RunningService, tenants: list[tuple[str, str]]) -> None:
    js = service.runtime.js
    for tenant_id, address in tenants:
        # The address's first label names its relay (ManoMano's, in a mixed run).
        marketplace = "MANOMANO" if address.startswith("manomano.") else "AMAZON"
        event = tenant_synced(tenant_id, address, marketplace)
        await js.publish(event.type, encode_event(event), headers=event_headers(event))
    query = "SELECT count(*) FROM poller_poll_status"
    while await service.runtime.pool.fetchval(query) < len(tenants):  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def _poll_everything(service: RunningService, total: int) -> float:
    """Seconds from 'every tenant due' to the last message.received on JetStream."""
    pool, js = service.runtime.pool, service.runtime.js
    start = time.perf_counter()
    # Due now, and said so on the channel the MX's deliveries notify (as mail arriving
    # would): the scheduler claims at once rather than at its next tick.
    await pool.execute("UPDATE poller_poll_status SET next_poll_at = now()")
    await pool.execute("SELECT pg_notify($1, '')", DUE_CHANNEL)
    # The end is the last event on the stream (the outbox relay publishes after commit).
    while (await js.stream_info("MESSAGES")).state.messages < total:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - start
    stored = await pool.fetchval("SELECT count(*) FROM poller_ticket_messages")
    assert stored == total, f"{stored} ticket messages for {total} mails"
    return seconds


async def run(ctx: BenchContext) -> list[Figure]:
    total = TENANTS * MAILS
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    # fsync off, as in the tests: delivery is set-up here, and reading does not fsync.
    spec = dovecot.dovecot_spec(ctx.root / "bench-dovecot", imap_port, lmtp_port, fsync=False)
    server = infra.RunningServer(spec, ctx.root / "bench-dovecot.log").start(timeout=60)
    try:
        return await _measure(ctx, imap_port, lmtp_port, total)
    finally:
        server.stop()


async def _measure(ctx: BenchContext, imap_port: int, lmtp_port: int, total: int) -> list[Figure]:
    tenants = [_tenant(i) for i in range(TENANTS)]
    maildir = ctx.root / "bench-dovecot" / "mail" / dovecot.MAIL_USER / "Maildir"
    delivery_seconds = await _deliver_all(lmtp_port, maildir, tenants)
    await _index_folders(imap_port, tenants)
    jetstream = await jetstream_round_trip(ctx.nats_url, total)
    bulk = await _bulk_imap_read(imap_port, tenants)
    assert bulk.mails == total, f"IMAP read {bulk.mails} of {total} mails"
    client = await _poller_client_read(imap_port, tenants)
    assert client.mails == total, f"IMAP read {client.mails} of {total} mails"
    mail = {
        "IMAP_PORT": str(imap_port),
        "LMTP_PORT": str(lmtp_port),
        "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD,
    }
    database = await ctx.make_database("poller")
    setup = await _poller(ctx, database, mail, poll=False)
    try:
        await _make_known(setup, tenants)
        await setup.runtime.pool.execute(
            "UPDATE poller_poll_status SET next_poll_at = now() + interval '1 day'"
        )
        await setup.runtime.js.purge_stream("MESSAGES")
    finally:
        await setup.stop()
    poller = await _poller(ctx, database, mail, poll=True)
    statements: list[Figure] = []
    try:
        if STATEMENTS:
            await _statements_reset(poller)
        cpu_before, postgres_before = cpu_seconds_by_program(), _postgres_by_role()
        busy_before = machine_busy_seconds()
        seconds = await _poll_everything(poller, total)
        cpu = cpu_spent(cpu_before, cpu_seconds_by_program())
        busy = machine_busy_seconds() - busy_before
        postgres = cpu_spent_by_process(postgres_before, _postgres_by_role())
        if STATEMENTS:
            statements = await _statements(poller, total)
    finally:
        await poller.stop()
    steady = [await _steady_state(ctx, database, mail, interval) for interval in STEADY_INTERVALS]
    js_rate, imap_rate = jetstream.rate, total / bulk.seconds
    size = f"{TENANTS} tenants × {MAILS} mails"
    slower = min(imap_rate, js_rate)
    return [
        {
            "name": f"raw JetStream publish+consume+ack, {total} msgs",
            "value": js_rate,
            "unit": "msg/s",
        },
        {
            "name": "bulk IMAP read (UID FETCH BODY.PEEK[] per folder, 50 a command)",
            "value": imap_rate,
            "unit": "mails/s",
            "note": f"{size}, {bulk.seconds:.2f} s, one connection",
        },
        {
            "name": "IMAP read with the poller's client (SELECT + one UID FETCH per folder)",
            "value": total / client.seconds,
            "unit": "mails/s",
            "note": f"{size}, {client.seconds:.2f} s, one connection; not the ratio's baseline",
        },
        {
            "name": "poller: Dovecot → tickets + message.received on JetStream",
            "value": total / seconds,
            "unit": "mails/s",
            "baseline": slower,
            "note": f"{size} in {seconds:.2f} s; POLL_CONCURRENCY "
            f"{poller.runtime.settings.poll_concurrency}; ratio to the slower "
            f"baseline; set-up: {DELIVERY} delivery at {total / delivery_seconds:.0f} mails/s",
        },
        *cpu_figures("poller", cpu, total),
        {
            # What two cores can give: at most 2 s of CPU a second over every process.
            "name": "poller: CPU per mail, every process",
            "value": sum(cpu.values()) * 1e6 / total,
            "unit": "µs",
            "note": "the poller (bench process) and its parse workers (their start "
            "included), PostgreSQL, Dovecot, NATS and any other child of the bench",
        },
        *cpu_figures("poller", postgres, total),
        *statements,
        *_floor(jetstream, bulk, client, cpu, busy, seconds, slower, total),
        *steady,
    ]


def _floor(
    jetstream: JetStreamRoundTrip,
    bulk: _Read,
    client: _Read,
    cpu: dict[str, float],
    busy: float,
    seconds: float,
    slower: float,
    total: int,
) -> list[Figure]:
    """The baselines' CPU a message by process, and what they leave the rest of the
    poller's work at half the slower baseline's rate.

    A mail's path holds at least an IMAP read of it and a JetStream publish of its event:
    their CPU a message (every process: the bench's client, Dovecot, NATS) is a floor
    under the poller's. At ``slower`` / 2 mails a second, the machine's cores (two here)
    give cores / (``slower`` / 2) s of CPU a mail, and at the poller phase's utilisation
    (its CPU over its seconds) its cores used / (``slower`` / 2): the floor taken away,
    what is left for everything else (the parse, PostgreSQL, the poller's own Python).
    ``busy``: the machine's busy CPU seconds over the phase, whoever's (other work and the
    kernel's softirq take cores too)."""
    phases = {
        "raw JetStream, publish (each ack awaited)": jetstream.publish_cpu,
        "raw JetStream, fetch + ack": jetstream.consume_cpu,
        "bulk IMAP read": bulk.cpu,
        "IMAP read with the poller's client": client.cpu,
    }
    figures: list[Figure] = []
    for phase, spent in phases.items():
        figures += cpu_figures(f"baseline {phase}", spent, total, per="message")
        figures.append(
            {
                "name": f"baseline {phase}: CPU per message, every process",
                "value": sum(spent.values()) * 1e6 / total,
                "unit": "µs",
            }
        )
    read = min(sum(bulk.cpu.values()), sum(client.cpu.values()))
    floor = (read + sum(jetstream.publish_cpu.values())) * 1e6 / total
    cores = sum(cpu.values()) / seconds
    machine_cores = os.cpu_count() or 1
    every_core = machine_cores * 1e6 / (slower / 2)
    at_utilisation = cores * 1e6 / (slower / 2)
    return [
        *figures,
        {
            "name": "floor: an IMAP read (the cheaper) + a JetStream publish, every process",
            "value": floor,
            "unit": "µs a mail",
            "note": "what the poller's path holds at least, in the baselines' own clients",
        },
        {
            "name": "poller phase: cores used (every process's CPU / its seconds)",
            "value": cores,
            "unit": "cores",
            "note": f"of {machine_cores}; {sum(cpu.values()) * 1e6 / total:.1f} µs a mail at "
            f"{total / seconds:.0f} mails/s; the machine's busy cores, whoever's: "
            f"{busy / seconds:.2f}",
        },
        {
            "name": "at 0.5× of the slower baseline, every core: CPU a mail to spend",
            "value": every_core,
            "unit": "µs",
            "note": f"{slower / 2:.0f} mails/s; the floor taken away: {every_core - floor:.1f} µs "
            "left for the rest (the parse, PostgreSQL, the poller's Python)",
        },
        {
            "name": "at 0.5× of the slower baseline, the poller phase's cores: CPU a mail",
            "value": at_utilisation,
            "unit": "µs",
            "note": f"{cores:.2f} cores; the floor taken away: {at_utilisation - floor:.1f} µs "
            "left for the rest",
        },
    ]


async def _statements_reset(service: RunningService) -> None:
    pool = service.runtime.pool
    await pool.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await pool.execute("SELECT pg_stat_statements_reset()")


async def _statements(service: RunningService, total: int) -> list[Figure]:
    """The statements of the throughput phase (``BENCH_STATEMENTS=1``), costliest first:
    each one's calls and execution time a mail. Its own queries and the bench's are left
    out (they name ``pg_stat`` or ``count(*)``)."""
    rows = await service.runtime.pool.fetch(
        """
        SELECT calls, total_exec_time, rows, query FROM pg_stat_statements
        WHERE query NOT ILIKE '%pg_stat%' AND query NOT ILIKE '%count(*)%'
        ORDER BY total_exec_time DESC
        """
    )
    figures: list[Figure] = [
        {
            "name": "statements: every one, execution time a mail",
            "value": sum(r["total_exec_time"] for r in rows) * 1e3 / total,
            "unit": "µs",
            "note": f"{sum(r['calls'] for r in rows) / total:.3f} statements a mail",
        }
    ]
    for r in rows[:STATEMENT_ROWS]:
        query = " ".join(r["query"].split())
        figures.append(
            {
                "name": f"statement: {query[:STATEMENT_CHARS]}",
                "value": r["total_exec_time"] * 1e3 / total,
                "unit": "µs a mail",
                "note": f"{r['calls'] / total:.3f} calls a mail, {r['rows'] / total:.2f} rows",
            }
        )
    return figures


async def _steady_state(
    ctx: BenchContext, database: str, mail: dict[str, str], interval: int
) -> Figure:
    """Every tenant polled each ``interval`` s (nothing new to read): polls/s and lag p99."""
    poller = await _poller(ctx, database, mail, poll=True, POLL_INTERVAL_SECONDS=str(interval))
    pool = poller.runtime.pool
    try:
        await pool.execute(
            "UPDATE poller_poll_status SET next_poll_at = now() + random() * make_interval(secs => $1)",
            float(interval),
        )
        started = await pool.fetchval("SELECT now()")  # polls of the earlier phase are not counted
        lags, displaced = await sample_poll_lags(pool, interval, interval * STEADY_ROUNDS, started)
    finally:
        await poller.stop()
    polls = len(lags) + displaced
    seconds = interval * STEADY_ROUNDS
    p99 = statistics.quantiles(lags, n=100)[98] if len(lags) > 1 else float("nan")
    p50 = statistics.median(lags) if lags else float("nan")
    return {
        "name": f"steady state: {TENANTS} tenants every {interval} s (empty polls)",
        "value": polls / seconds,
        "unit": "polls/s",
        "baseline": TENANTS / interval,
        "note": f"poll lag p50 {p50:.2f} s, p99 {p99:.2f} s; {displaced} of {polls} polls "
        f"more than an interval late; the load of {TENANTS * 60 // interval} tenants at 60 s",
    }
