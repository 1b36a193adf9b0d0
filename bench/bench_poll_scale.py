"""Polling scale: how many tenants one poller instance keeps polled at the sweep interval.

Set-up (timed, not measured against the target): a Dovecot and a PostgreSQL of
its own (PostgreSQL with ``pg_stat_statements``, to read the scheduler's
statements), ``N`` tenant folders written straight into the Maildir with one
mail each, a SELECT of every folder (Dovecot indexes it; the UIDVALIDITY read
becomes the tenant's cursor, so every poll finds nothing new: empty polls), and
the tenants made known by ``tenant.synced`` (a poller instance with polling off),
plus ``ARCHIVED`` tenants (a twentieth more) archived: their rows stay.

Measured: one poller instance, a process of its own as in production, polling
the ``N`` tenants every ``I`` seconds for ``ROUNDS`` intervals: polls/s held vs
asked (N / I), poll lag (poll completed − poll scheduled, from
``poller_poll_status``) p50/p99/max, polls more than an interval late, the
poller's CPU and peak RSS, PostgreSQL's time in each of its statements, and the
quarantine scan (LIST + counts of every folder) timed while the polls run.
Baselines of the same run: SELECTs of the same folders one after another on one
IMAP connection; the scan as it was (a STATUS per folder) right after the new one;
the claim statement alone over the same rows, and the claim before parking
(``CLAIM_BEFORE``) with the archived tenants due.

``BENCH_POLL_SCALE_TENANTS`` (20,000) / ``BENCH_POLL_SCALE_INTERVAL`` (300 s, the
default POLL_INTERVAL_SECONDS) / ``BENCH_POLL_SCALE_ROUNDS`` (2): a shorter
interval with tenants scaled alike asks the same polls/s (2,000 every 30 s).
``BENCH_POLL_SCALE_HEADROOM`` (60): then the same tenants every 60 s, 5× the polls/s.
``BENCH_POLL_SCALE_ROUNDS=0``: set-up and baselines only.
"""

from __future__ import annotations

import asyncio
import imaplib
import inspect
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aioimaplib
import asyncpg
import httpx
from keybuzz_devstack import bootstrap, dovecot, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.polling import store
from keybuzz_poller.reading.mailbox import ImapAccount, _list, _status_messages
from keybuzz_shared.events import TenantArchived, encode_event, event_headers

from bench.bench_poller import _mail, _make_known, _poller, _tenant
from bench.harness import BenchContext, Figure, sample_poll_lags, timed

TENANTS = int(os.environ.get("BENCH_POLL_SCALE_TENANTS", "20000"))
INTERVAL = int(os.environ.get("BENCH_POLL_SCALE_INTERVAL", "300"))
# Then the same tenants at these shorter intervals: the headroom (0: none).
HEADROOM = [int(i) for i in os.environ.get("BENCH_POLL_SCALE_HEADROOM", "60").split(",") if i]
ROUNDS = int(os.environ.get("BENCH_POLL_SCALE_ROUNDS", "2"))
# Archived tenants stay in poller_poll_status (and their folders in Dovecot): a twentieth
# of the active ones on top, never to be polled.
ARCHIVED = int(os.environ.get("BENCH_POLL_SCALE_ARCHIVED", str(TENANTS // 20)))
UNKNOWN_FOLDERS = 20  # folders of tenants nobody told the poller about: the scan finds them
SETUP_SESSIONS = 4  # threads writing folders, then IMAP connections indexing them
SAMPLE_SECONDS = 1.0
LEASE_SECONDS = 30.0  # POLL_LEASE_SECONDS' default


async def run(ctx: BenchContext) -> list[Figure]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    spec = dovecot.dovecot_spec(ctx.root / "scale-dovecot", imap_port, lmtp_port, fsync=False)
    mail_server = infra.RunningServer(spec, ctx.root / "scale-dovecot.log").start(timeout=60)
    pg_spec = infra.postgres_spec(ctx.root / "scale-pg" / "data", infra.free_port())
    # The statements' own time, per statement: PostgreSQL only tracks it when preloaded.
    pg_spec.command += ["-c", "shared_preload_libraries=pg_stat_statements"]
    pg = infra.RunningServer(pg_spec, ctx.root / "scale-pg.log").start(timeout=60)
    try:
        return await _measure(ctx, pg_spec.url, imap_port)
    finally:
        pg.stop()
        mail_server.stop()


async def _measure(ctx: BenchContext, postgres_url: str, imap_port: int) -> list[Figure]:
    tenants = [_tenant(i) for i in range(TENANTS + ARCHIVED)]
    maildir = ctx.root / "scale-dovecot" / "mail" / dovecot.MAIL_USER / "Maildir"
    unknown = [f"unknown{i:03d}" for i in range(UNKNOWN_FOLDERS)]
    folders = [folder_for(t) for t, _ in tenants] + [folder_for(u) for u in unknown]
    setup: dict[str, float] = {}
    setup["folders"] = await timed(lambda: _write_folders(maildir, tenants))
    validity: dict[str, int] = {}
    shares = [folders[k::SETUP_SESSIONS] for k in range(SETUP_SESSIONS)]
    setup["index"] = await timed(
        lambda: asyncio.gather(*(_select_all(imap_port, share, validity) for share in shares))
    )
    select_seconds = await timed(lambda: _select_all(imap_port, folders, {}))
    account = ImapAccount("127.0.0.1", imap_port, dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD)
    scan_alone, scanned = await _timed_scan(account)
    assert len(scanned) == len(folders), f"the scan listed {len(scanned)} of {len(folders)}"

    database = await bootstrap.create_scratch_database(postgres_url, "pollscale")
    mail = {"IMAP_PORT": str(imap_port), "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD}
    known = await _poller(ctx, database, mail, poll=False)
    try:
        setup["tenant.synced"] = await timed(lambda: _make_known(known, tenants))
        await _archive(known, [t for t, _ in tenants[TENANTS:]])
        await _save_cursors(known.runtime.pool, tenants, validity)
    finally:
        await known.stop()
    claim_rate, claim_before_ms, claim_ms = await _claim_alone(database)

    intervals = [INTERVAL, *HEADROOM] if ROUNDS else []  # 0 rounds: set-up and baselines
    runs = [await _steady(ctx, database, mail, account, i) for i in intervals]
    claims = (claim_rate, claim_before_ms, claim_ms)
    figures = _figures(setup, select_seconds, len(folders), scan_alone, claims)
    return figures + [f for run_ in runs for f in _run_figures(run_, len(folders))]


async def _archive(service: RunningService, tenant_ids: list[str]) -> None:
    js = service.runtime.js
    for tenant_id in tenant_ids:
        event = TenantArchived(tenant_id=tenant_id, occurred_at=datetime.now(UTC))
        await js.publish(event.type, encode_event(event), headers=event_headers(event))
    query = "SELECT count(*) FROM poller_tenants WHERE archived"
    while await service.runtime.pool.fetchval(query) < len(tenant_ids):  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def _write_folders(maildir: Path, tenants: list[tuple[str, str]]) -> None:
    """Each tenant's Maildir++ folder with one mail in ``new``, and a few folders of
    unknown tenants; owned by the mail user, as Dovecot would leave them."""
    owner = maildir.parent.stat()
    named = [(n, folder_for(t), a) for n, (t, a) in enumerate(tenants)]
    named += [(-i, folder_for(f"unknown{i:03d}"), "x@y") for i in range(UNKNOWN_FOLDERS)]
    shares = [named[k::SETUP_SESSIONS] for k in range(SETUP_SESSIONS)]
    await asyncio.gather(*(asyncio.to_thread(_write_share, maildir, s, owner) for s in shares))
    os.chown(maildir, owner.st_uid, owner.st_gid)


def _write_share(maildir: Path, named: list[tuple[int, str, str]], owner: os.stat_result) -> None:
    """Blocking (a thread of its own: the writes are system calls, slow on a loaded disk)."""
    for n, folder_name, address in named:
        folder = maildir / f".{folder_name}"
        for sub in ("", "cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            os.chown(folder / sub, owner.st_uid, owner.st_gid)
        mail = folder / "new" / f"{int(time.time())}.M0P{n}.bench"
        mail.write_bytes(_mail(address, n))
        os.chown(mail, owner.st_uid, owner.st_gid)


async def _select_all(port: int, folders: list[str], validity: dict[str, int]) -> None:
    """SELECT every folder on one connection; each one's UIDVALIDITY into ``validity``."""
    client = aioimaplib.IMAP4("127.0.0.1", port, timeout=120)
    await client.wait_hello_from_server()
    await client.login(dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD)
    for folder in folders:
        selected = await client.select(folder)
        assert selected.result == "OK", f"SELECT {folder}: {selected}"
        for line in selected.lines:
            if b"[UIDVALIDITY " in line:
                validity[folder] = int(line.split(b"[UIDVALIDITY ")[1].split(b"]")[0])
    await client.logout()


async def _timed_scan(account: ImapAccount) -> tuple[float, dict[str, int]]:
    """The quarantine scan's IMAP part (every folder and its mail count), timed."""
    start = time.perf_counter()
    folders = await account.tenant_folders()
    return time.perf_counter() - start, folders


async def _save_cursors(
    pool: asyncpg.Pool, tenants: list[tuple[str, str]], validity: dict[str, int]
) -> None:
    """Each folder read up to its one mail: every poll of the run finds nothing new."""
    rows = [(t, folder_for(t), validity[folder_for(t)], 1) for t, _ in tenants]
    await pool.executemany(
        "INSERT INTO poller_mail_cursors (tenant_id, folder, uid_validity, last_uid) "
        "VALUES ($1, $2, $3, $4)",
        rows,
    )


async def _spread(db: asyncpg.Connection | asyncpg.Pool, interval: int = INTERVAL) -> None:
    await db.execute(
        "UPDATE poller_poll_status SET next_poll_at = now() + random() * make_interval(secs => $1)",
        float(interval),
    )


async def _claim_alone(database: str) -> tuple[float, float, float]:
    """Baseline: the claim statement alone (one tenant a claim, rolled back) over the same
    rows, spread over the interval as in the run: claims/s on one connection, and the
    execution time (ms, EXPLAIN ANALYZE) of the claim as it was (archived tenants left
    due, so due for ever) and of ``claim_due``'s (after its claims parked them)."""
    conn = await asyncpg.connect(database)
    try:
        await _spread(conn)
        # Eight tenants due, as in a busy moment, and the archived ones: the claim as it
        # was leaves them due for ever.
        await conn.execute(
            "UPDATE poller_poll_status SET next_poll_at = now() - interval '1 s' "
            "WHERE tenant_id IN (SELECT tenant_id FROM poller_tenants WHERE NOT archived LIMIT 8)"
        )
        await conn.execute(
            "UPDATE poller_poll_status SET next_poll_at = now() - interval '2 s' "
            "WHERE tenant_id IN (SELECT tenant_id FROM poller_tenants WHERE archived)"
        )
        await conn.execute("VACUUM ANALYZE poller_poll_status")
        before = await _explain_median(conn, CLAIM_BEFORE, ("bench", 1, LEASE_SECONDS))
        # Claims committed first, as the scheduler's are: where claims park the tenants they
        # cannot poll, the archived ones leave the due range here; elsewhere they stay.
        for _ in range(ARCHIVED // 8 + 1):
            await _claim_one(conn)
        await conn.execute(
            "UPDATE poller_poll_status SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE lease_owner = 'bench'"
        )
        await conn.execute("VACUUM ANALYZE poller_poll_status")
        claims, deadline = 0, time.perf_counter() + 3.0
        start = time.perf_counter()
        while time.perf_counter() < deadline:
            transaction = conn.transaction()
            await transaction.start()
            claimed = await _claim_one(conn)
            assert claimed, "nothing due to claim"
            await transaction.rollback()
            claims += 1
        rate = claims / (time.perf_counter() - start)
        claim, arguments = await _claim_sent(conn)
        now = await _explain_median(conn, claim, arguments, show=True)
    finally:
        await conn.close()
    return rate, before, now


# The claim before parking (commit 46ea338), as a baseline of the same run.
CLAIM_BEFORE = """
    WITH due AS (
        SELECT s.tenant_id FROM poller_poll_status s
        WHERE s.next_poll_at <= now()
          AND EXISTS (SELECT 1 FROM poller_tenants t
                      WHERE t.tenant_id = s.tenant_id AND NOT t.archived)
          AND EXISTS (SELECT 1 FROM poller_inbound_addresses a
                      WHERE a.tenant_id = s.tenant_id AND a.enabled)
          AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())
        ORDER BY s.next_poll_at LIMIT $2
        FOR UPDATE OF s SKIP LOCKED
    )
    UPDATE poller_poll_status s
    SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3),
        claimed_at = now()
    FROM due WHERE s.tenant_id = due.tenant_id
    RETURNING s.tenant_id
"""


async def _claim_one(conn: asyncpg.Connection) -> list[str]:
    # The bench also runs against the code before claims took the interval, and before
    # the schedule was a port (module functions), to compare.
    schedule = getattr(store, "PostgresPollSchedule", None)
    if schedule is not None:
        return await schedule(conn).claim_due("bench", 1, LEASE_SECONDS, float(INTERVAL))
    claim_due = store.claim_due  # type: ignore[attr-defined]
    if "interval" in inspect.signature(claim_due).parameters:
        return await claim_due(conn, "bench", 1, LEASE_SECONDS, float(INTERVAL))  # type: ignore[no-any-return]
    return await claim_due(conn, "bench", 1, LEASE_SECONDS)  # type: ignore[no-any-return]


async def _claim_sent(conn: asyncpg.Connection) -> tuple[str, tuple[object, ...]]:
    """The statement ``claim_due`` sends, and its arguments (a claim rolled back)."""
    sent: list[str] = []
    conn.add_query_logger(lambda record: sent.append(record.query))
    transaction = conn.transaction()
    await transaction.start()
    await _claim_one(conn)
    await transaction.rollback()
    await asyncio.sleep(0.1)  # query loggers are called soon after, not during, the query
    claim = next(q for q in sent if "poller_poll_status" in q)
    arguments: tuple[object, ...] = ("bench", 1, LEASE_SECONDS, float(INTERVAL))  # as passed
    return claim, arguments[: max(int(n) for n in re.findall(r"\$(\d+)", claim))]


async def _explain_median(
    conn: asyncpg.Connection, sql: str, arguments: tuple[object, ...], show: bool = False
) -> float:
    """Execution time (ms, median of 20 EXPLAIN ANALYZE, each rolled back)."""
    times: list[float] = []
    for n in range(21):
        transaction = conn.transaction()
        await transaction.start()
        try:
            explain = "EXPLAIN (ANALYZE, FORMAT " + ("TEXT" if n == 0 else "JSON") + ")"
            plan = await conn.fetch(f"{explain} {sql}", *arguments)
        finally:
            await transaction.rollback()
        if n == 0 and show:
            print("\n".join(r[0] for r in plan), file=sys.stderr)
        elif n:
            times.append(float(json.loads(plan[0][0])[0]["Execution Time"]))
    return statistics.median(times)


class Run:
    """What one instance did over the measured intervals."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self.displaced = 0
        self.cpu_seconds = 0.0
        self.peak_rss_mib = 0.0
        self.seconds = 0.0
        self.scan_seconds = 0.0
        self.scan_one_by_one_seconds = 0.0
        self.statements: list[asyncpg.Record] = []
        self.load = ""


async def _steady(
    ctx: BenchContext, database: str, mail: dict[str, str], account: ImapAccount, interval: int
) -> Run:
    result = Run(interval)
    conn = await asyncpg.connect(database)
    poller = _start_poller(ctx, database, mail, interval)
    try:
        await _wait_ready(poller)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await _spread(conn, interval)
        await conn.execute("SELECT pg_stat_statements_reset()")
        started = await conn.fetchval("SELECT now()")
        cpu_before = _cpu_seconds(poller.process.pid)
        duration = interval * ROUNDS
        sampling = asyncio.create_task(
            _sample(conn, poller.process.pid, interval, duration, started)
        )
        await asyncio.sleep(min(interval / 2, 60))  # the scans, while polls run
        result.scan_seconds, _ = await _timed_scan(account)
        result.scan_one_by_one_seconds = await timed(
            lambda: asyncio.to_thread(_scan_one_by_one, account)
        )
        result.lags, result.displaced, result.peak_rss_mib = await sampling
        result.cpu_seconds = _cpu_seconds(poller.process.pid) - cpu_before
        result.seconds = duration
        result.load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        result.statements = await conn.fetch(
            """
            SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements
            WHERE query ILIKE '%poller_%' ORDER BY total_exec_time DESC LIMIT 8
            """
        )
    finally:
        poller.stop()
        await conn.close()
    return result


class PollerProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _scan_one_by_one(account: ImapAccount) -> int:
    """Baseline: the scan as it was, LIST then a STATUS per folder (blocking)."""
    with imaplib.IMAP4(account.host, account.port) as imap:
        imap.login(account.user, account.password)
        return sum(_status_messages(imap, name) for name in _list(imap, "tenant-", ""))


def _start_poller(
    ctx: BenchContext, database: str, mail: dict[str, str], interval: int
) -> PollerProcess:
    """``python -m keybuzz_poller``: its own process, so its CPU and RSS are its own."""
    port = infra.free_port()
    env = {
        **os.environ,
        "NATS_URL": ctx.nats_url,
        "DATABASE_URL": database,
        "VAULT_ADDR": ctx.vault_addr,
        "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
        "LOG_LEVEL": "WARNING",
        "POLLER_PORT": str(port),
        "MX_PORT": str(infra.free_port()),
        "POLL_INTERVAL_SECONDS": str(interval),
        **mail,
    }
    log = ctx.root / "scale-poller.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "keybuzz_poller"], env=env, stdout=output, stderr=output
        )
    return PollerProcess(process, port, log)


async def _wait_ready(poller: PollerProcess) -> None:
    last: object = None
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if poller.process.poll() is not None:
                raise RuntimeError(f"the poller exited: {poller.log.read_text()[-3000:]}")
            try:
                last = await client.get(f"http://127.0.0.1:{poller.port}/health")
                if last.status_code == 200:  # type: ignore[attr-defined]
                    return
            except httpx.TransportError as exc:
                last = exc
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the poller did not start ({last!r}): {poller.log.read_text()[-3000:]}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory (``VmRSS``), or one of its parts (``RssAnon``: its
    own, ``RssFile``: mapped files' pages, shared with every process mapping them)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _sample(
    conn: asyncpg.Connection, pid: int, interval: int, duration: float, started: datetime
) -> tuple[list[float], int, float]:
    """Poll lags and polls that lost their place (``sample_poll_lags``), and the poller's
    peak RSS (MiB)."""
    peak = [0.0]

    def rss() -> None:
        peak[0] = max(peak[0], _rss_mib(pid))

    lags, displaced = await sample_poll_lags(
        conn, interval, duration, started, every=SAMPLE_SECONDS, on_sample=rss
    )
    return lags, displaced, peak[0]


def _figures(
    setup: dict[str, float],
    select_seconds: float,
    folders: int,
    scan_alone: float,
    claims: tuple[float, float, float],
) -> list[Figure]:
    claim_rate, claim_before_ms, claim_ms = claims
    return [
        {
            "name": f"IMAP SELECT, {folders} folders one after another, one connection",
            "value": folders / select_seconds,
            "unit": "SELECT/s",
            "note": f"set-up: folders on disk {setup['folders']:.0f} s, first SELECT (indexing, "
            f"{SETUP_SESSIONS} connections) {setup['index']:.0f} s, tenant.synced × "
            f"{TENANTS + ARCHIVED} {setup['tenant.synced']:.0f} s; the scan's first run after "
            f"indexing {scan_alone:.1f} s",
        },
        {
            "name": f"claim statement alone (1 tenant a claim, rolled back), one connection, "
            f"{TENANTS} + {ARCHIVED} archived tenants",
            "value": claim_rate,
            "unit": "claims/s",
        },
        {
            "name": "claim statement's execution time (EXPLAIN ANALYZE, median of 20)",
            "value": claim_ms,
            "unit": "ms",
            "baseline": claim_before_ms,
            "note": "baseline: the claim before parking, the archived tenants due (as they stayed)",
        },
    ]


def _run_figures(run: Run, folders: int) -> list[Figure]:
    seconds = run.interval * ROUNDS
    polls = len(run.lags) + run.displaced
    lags = sorted(run.lags)
    p50 = statistics.median(lags) if lags else float("nan")
    p99 = statistics.quantiles(lags, n=100)[98] if len(lags) > 1 else float("nan")
    size = f"{TENANTS} tenants (+ {ARCHIVED} archived) every {run.interval} s × {ROUNDS}"
    statements = "; ".join(
        f"{_short(r['query'])}: {r['calls']} calls, {r['mean_exec_time']:.3f} ms mean, "
        f"{r['total_exec_time'] / 1000:.1f} s total"
        for r in run.statements
    )
    print(f"bench_poll_scale statements ({run.interval} s): {statements}", file=sys.stderr)
    return [
        {
            "name": f"polling: {size} (empty polls)",
            "value": polls / seconds,
            "unit": "polls/s",
            "baseline": TENANTS / run.interval,
            "note": f"poll lag p50 {p50:.2f} s, p99 {p99:.2f} s, max {lags[-1] if lags else 0:.2f}"
            f" s; {run.displaced} of {polls} polls more than an interval late; poller CPU "
            f"{100 * run.cpu_seconds / seconds:.0f} % of a core, peak RSS "
            f"{run.peak_rss_mib:.0f} MiB; load average at the end {run.load}",
        },
        {
            "name": f"quarantine scan (LIST + counts), {folders} folders, during the polls",
            "value": run.scan_seconds,
            "unit": "s",
            "baseline": run.scan_one_by_one_seconds,
            "note": "baseline: LIST then a STATUS per folder (the scan before LIST-STATUS), "
            "right after",
        },
        {
            "name": "PostgreSQL: the poller's statements, total execution time",
            "value": sum(r["total_exec_time"] for r in run.statements) / 1000 / seconds,
            "unit": "s per s",
            "note": "pg_stat_statements, the 8 costliest statements naming poller_ tables "
            "(the bench's own sampling query included)",
        },
    ]


def _short(query: str) -> str:
    return " ".join(query.split())[:80]
