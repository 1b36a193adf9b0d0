"""All SQL of polling (asyncpg): the schedule, the leases, poll status (``ports.PollSchedule``:
``PostgresPollSchedule``), the quarantine (``ports.QuarantineStore``: ``PostgresQuarantine``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import asyncpg
from keybuzz_shared.db import Executor

from keybuzz_poller.polling.domain import PollClaim, PollFailure, PollStatus, QuarantinedFolder

# NOTIFY channel: a tenant is due now (payload: its id); every polling instance LISTENs.
DUE_CHANNEL = "keybuzz_poller_due"
# A claim that parked tenants it cannot poll claims again for its free slots, this many
# times at most (a larger backlog of them is cleared by the next claims).
CLAIM_ROUNDS = 4
PARK_WINDOW = 8  # due rows a claim looks at beyond its free slots


_POLLABLE_TENANT = """
    EXISTS (SELECT 1 FROM poller_tenants t WHERE t.tenant_id = s.tenant_id AND NOT t.archived)
    AND EXISTS (SELECT 1 FROM poller_inbound_addresses a
                WHERE a.tenant_id = s.tenant_id AND a.enabled)
"""


@dataclass(frozen=True)
class PollTable:
    """A table of things to poll with the schedule's columns (``poller_poll_status``'s):
    its name, its key column, and when one of its rows ``s`` may be polled. ``paced``:
    a row's polls call an API that allows one listing per interval, so its next poll is
    due an interval after this one ended (after the last call the API saw), never sooner;
    else an interval after this one was due, keeping its place in the interval."""

    name: str
    key: str
    pollable: str
    paced: bool = False
    # What a claim reads of each row it leases, beside its key (SELECT expressions on the
    # row as leased, ``s``): the poll's start, a statement of its own at every poll otherwise.
    started: tuple[str, ...] = ()
    # What a claim does for the rows it leased, in its statement: WITH items reading
    # ``leased`` (``claimed_with``), joined to it (``claimed_join``) for the columns read
    # after the start (``claimed_read``). A shop's calls reserved: ``polling/shops_store.py``.
    claimed_with: str = ""
    claimed_join: str = ""
    claimed_read: tuple[str, ...] = ()

    @property
    def after_success(self) -> str:
        """When a row polled without a delivery during its poll is next due (``$4``: the
        interval)."""
        if self.paced:
            return "now() + make_interval(secs => $4)"
        return """CASE WHEN s.next_poll_at + make_interval(secs => $4) > now()
                        THEN s.next_poll_at + make_interval(secs => $4)
                    ELSE now() + random() * make_interval(secs => $4) END"""

    @property
    def taken_over(self) -> str:
        """What a claim sets of a paced row besides its lease: a poll that never ended (its
        instance died, its lease expired) made its calls by its lease's end at the latest,
        which stands for its end (``last_poll_at``, the pace's reference)."""
        if not self.paced:
            return ""
        return """last_poll_at = CASE WHEN s.lease_owner IS NULL THEN s.last_poll_at
                       ELSE greatest(s.last_poll_at, s.lease_expires_at) END,"""

    @property
    def released(self) -> str:
        """What releasing an instance's leases at shutdown sets of a paced row: its poll was
        running, its calls may have gone, now stands for its end."""
        return ", last_poll_at = now()" if self.paced else ""


TENANT_FOLDERS = PollTable("poller_poll_status", "tenant_id", _POLLABLE_TENANT)

# The oldest due rows, up to PARK_WINDOW more than the free slots: the pollable ones are
# leased (oldest first), the others parked. The window bounds a claim's cost however many
# unpollable tenants are due. Pollability is tested in a WHERE over the window (index
# probes): as a column of the window's SELECT, PostgreSQL would hash both tables whole
# at every claim (docs/BENCHMARKS.md, bench_poll_scale).
_CLAIM_DUE = """
    WITH oldest AS (
        SELECT s.* FROM {t.name} s
        WHERE s.next_poll_at <= now()
          AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())
          AND ($5::bool IS NULL OR (s.consecutive_failures > 0) = $5::bool)
          AND s.{t.key} <> ALL($6::text[])
        ORDER BY s.next_poll_at
        LIMIT $2 + {park_window}
        FOR UPDATE OF s SKIP LOCKED
    ), pollable AS (
        SELECT s.{t.key}, s.next_poll_at FROM oldest s WHERE {t.pollable}
    ), due AS (
        SELECT {t.key} FROM pollable ORDER BY next_poll_at LIMIT $2
    ), leased AS (
        UPDATE {t.name} s
        SET {t.taken_over} lease_owner = $1,
            lease_expires_at = now() + make_interval(secs => $3), claimed_at = now()
        FROM due WHERE s.{t.key} = due.{t.key}
        RETURNING s.{t.key}{started}
    ){t.claimed_with}, parked AS (
        UPDATE {t.name} s SET next_poll_at = now() + make_interval(secs => $4)
        FROM oldest
        WHERE s.{t.key} = oldest.{t.key}
          AND oldest.{t.key} NOT IN (SELECT {t.key} FROM pollable)
        RETURNING s.{t.key}
    )
    SELECT leased.{t.key} AS key, true AS claimed{read} FROM leased{t.claimed_join}
    UNION ALL SELECT {t.key}, false{unread} FROM parked
"""


# A poll that succeeded: ``poll_succeeded`` ($1 key, $2 owner, $3 fetched, $4 interval).
_SUCCEEDED = """
    WITH old AS (
        SELECT {t.key}, last_pushed_at > claimed_at AS pushed_during_poll
        FROM {t.name} WHERE {t.key} = $1 AND lease_owner = $2 FOR UPDATE
    )
    UPDATE {t.name} s SET
        next_poll_at = CASE
            WHEN old.pushed_during_poll THEN now()
            ELSE {t.after_success} END,
        pushed_at = CASE WHEN old.pushed_during_poll THEN s.last_pushed_at END,
        lease_owner = NULL, lease_expires_at = NULL, last_due_at = s.next_poll_at,
        last_poll_at = now(), last_success_at = now(), consecutive_failures = 0,
        messages_fetched = s.messages_fetched + $3
    FROM old WHERE s.{t.key} = old.{t.key}
"""

# A poll that failed: ``poll_failed`` ($3 error, $4 delays, $5 their last index, $6 at least).
_FAILED = """
    UPDATE {t.name} SET
        next_poll_at = now() + make_interval(secs => greatest($6::float8,
            ($4::float8[])[least(consecutive_failures, $5) + 1])),
        lease_owner = NULL, lease_expires_at = NULL,
        last_poll_at = now(), last_error = $3, last_error_at = now(),
        consecutive_failures = consecutive_failures + 1
    WHERE {t.key} = $1 AND lease_owner = $2
"""


class PostgresPollSchedule:
    """``ports.PollSchedule`` on PostgreSQL, with ``mark_delivered`` for the MX: tenants'
    folders (``TENANT_FOLDERS``), or another ``PollTable`` (marketplace shops)."""

    def __init__(self, db: Executor, table: PollTable = TENANT_FOLDERS) -> None:
        self.db = db
        self.table = table
        self._claim_due = _CLAIM_DUE.format(
            t=table,
            park_window=PARK_WINDOW,
            started="".join(f", {column} AS started_{n}" for n, column in enumerate(table.started)),
            read="".join(
                [f", started_{n}" for n in range(len(table.started))]
                + [f", {column}" for column in table.claimed_read]
            ),
            unread=", NULL" * (len(table.started) + len(table.claimed_read)),
        )
        self._succeeded = _SUCCEEDED.format(t=table)
        self._failed = _FAILED.format(t=table)

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        """A new tenant's first poll falls at a random point of the interval: polls spread out."""
        await self.db.execute(
            """
            INSERT INTO poller_poll_status (tenant_id, next_poll_at)
            VALUES ($1, now() + random() * make_interval(secs => $2))
            ON CONFLICT (tenant_id) DO NOTHING
            """,
            tenant_id,
            interval,
        )

    async def poll_soon(self, tenant_id: str) -> None:
        """Due now (connection.connected): the next round of any instance takes it."""
        await self.db.execute(
            """
            INSERT INTO poller_poll_status (tenant_id, next_poll_at) VALUES ($1, now())
            ON CONFLICT (tenant_id) DO UPDATE SET next_poll_at = now()
            """,
            tenant_id,
        )

    async def mark_delivered(self, tenant_id: str) -> None:
        """The MX stored a mail for the tenant: due now, and the instances are woken.

        One statement: the NOTIFY is sent when the mark commits, never before it.
        """
        await self.db.execute(
            f"""
            WITH marked AS (
                INSERT INTO poller_poll_status (tenant_id, next_poll_at, pushed_at, last_pushed_at)
                VALUES ($1, now(), now(), now())
                ON CONFLICT (tenant_id) DO UPDATE SET
                    next_poll_at = least(poller_poll_status.next_poll_at, now()),
                    pushed_at = coalesce(poller_poll_status.pushed_at, now()),
                    last_pushed_at = now()
                RETURNING tenant_id
            )
            SELECT pg_notify('{DUE_CHANNEL}', tenant_id) FROM marked
            """,
            tenant_id,
        )

    async def claim_due(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        interval: float,
        in_backoff: bool | None = None,
        polling: Collection[str] = (),
    ) -> list[str]:
        """Lease up to ``limit`` due tenants, oldest due first; rows another instance is
        claiming, and those ``polling`` names, are skipped. ``in_backoff``: only those whose
        last poll failed (True), or only the others (False); None: any.

        A due tenant that is not pollable (archived, no enabled address) is parked one
        ``interval`` on instead of staying due: left due, every claim of every instance
        walked past all of them (bench_poll_scale). It is looked at again an interval later,
        as a new tenant's first poll is; a delivery for it marks it due at once.
        """
        claimed: list[str] = []
        for _ in range(CLAIM_ROUNDS):
            rows = await self.db.fetch(
                self._claim_due,
                owner,
                limit - len(claimed),
                lease_seconds,
                interval,
                in_backoff,
                list(polling),
            )
            leased = [r for r in rows if r["claimed"]]
            self._leased(leased)
            claimed += [r["key"] for r in leased]
            if len(claimed) == limit or all(r["claimed"] for r in rows):  # none parked: none due
                break
        return claimed

    def _leased(self, rows: list[asyncpg.Record]) -> None:
        """What a claim read of the rows it leased (``PollTable.started``): none here."""

    async def claim_tenant(
        self, tenant_id: str, owner: str, lease_seconds: float
    ) -> PollClaim | None:
        """Lease one tenant now, due or not (poll-now); None if it is leased or not pollable."""
        t = self.table
        failing = await self.db.fetchval(
            f"""
            WITH one AS (
                SELECT s.{t.key} FROM {t.name} s
                WHERE s.{t.key} = $1 AND {t.pollable}
                  AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())
                FOR UPDATE OF s SKIP LOCKED
            )
            UPDATE {t.name} s
            SET {t.taken_over} lease_owner = $2,
                lease_expires_at = now() + make_interval(secs => $3), claimed_at = now()
            FROM one WHERE s.{t.key} = one.{t.key}
            RETURNING s.consecutive_failures > 0
            """,
            tenant_id,
            owner,
            lease_seconds,
        )
        return None if failing is None else PollClaim(in_backoff=failing)

    async def is_pollable(self, tenant_id: str) -> bool:
        """Known, not archived, with an enabled inbound address (leases aside)."""
        return bool(
            await self.db.fetchval(
                """
                SELECT true FROM poller_tenants t
                WHERE t.tenant_id = $1 AND NOT t.archived AND EXISTS (
                    SELECT 1 FROM poller_inbound_addresses a
                    WHERE a.tenant_id = t.tenant_id AND a.enabled)
                """,
                tenant_id,
            )
        )

    async def renew_leases(
        self, owner: str, tenant_ids: Sequence[str], lease_seconds: float
    ) -> None:
        t = self.table
        await self.db.execute(
            f"""
            UPDATE {t.name} SET lease_expires_at = now() + make_interval(secs => $3)
            WHERE lease_owner = $1 AND {t.key} = ANY($2::text[])
            """,
            owner,
            list(tenant_ids),
            lease_seconds,
        )

    async def poll_succeeded(
        self, tenant_id: str, owner: str, fetched: int, interval: float
    ) -> None:
        """Record the poll, release the lease, schedule the next one an interval later.

        Keeping the tenant's place in the interval keeps polls spread; a tenant overdue
        by more than an interval (every instance was down) gets a random place again. A
        paced table's row is due an interval after now (``PollTable.paced``).
        A mail delivered after the poll was claimed may have been missed: due again at once.
        ``pushed_at`` (the oldest delivery not yet served, for operators) is cleared.
        """
        await self.db.execute(self._succeeded, tenant_id, owner, fetched, interval)

    async def poll_skipped(self, tenant_id: str, owner: str, interval: float) -> None:
        t = self.table
        await self.db.execute(
            f"""
            UPDATE {t.name} SET
                next_poll_at = now() + make_interval(secs => $3),
                lease_owner = NULL, lease_expires_at = NULL
            WHERE {t.key} = $1 AND lease_owner = $2
            """,
            tenant_id,
            owner,
            interval,
        )

    async def seconds_since_poll(self, tenant_id: str) -> float | None:
        t = self.table
        since: float | None = await self.db.fetchval(
            f"""
            SELECT extract(epoch FROM clock_timestamp() - last_poll_at)::float8
            FROM {t.name} WHERE {t.key} = $1
            """,
            tenant_id,
        )
        return since

    async def poll_failed(self, tenant_id: str, owner: str, failure: PollFailure) -> None:
        """Record the error, release the lease, retry after the failure's delay for the
        consecutive failures (``PollFailure.delay``, its delays indexed by the count in SQL)."""
        await self.db.execute(self._failed, tenant_id, owner, *failed_args(failure))

    async def release_leases(self, owner: str) -> None:
        """On shutdown: another instance may take our tenants at once, due or not."""
        await self.db.execute(
            f"""
            UPDATE {self.table.name} SET lease_owner = NULL, lease_expires_at = NULL
                {self.table.released}
            WHERE lease_owner = $1
            """,
            owner,
        )

    async def poll_status(self, tenant_id: str) -> PollStatus | None:
        t = self.table
        row = await self.db.fetchrow(
            f"""
            SELECT {t.key} AS tenant_id, next_poll_at, lease_owner IS NOT NULL
                       AND lease_expires_at > now() AS polling,
                   last_poll_at, last_success_at, last_error, last_error_at,
                   consecutive_failures, messages_fetched,
                   extract(epoch FROM now() - last_success_at)::float8 AS lag_seconds
            FROM {t.name} WHERE {t.key} = $1
            """,
            tenant_id,
        )
        return PollStatus(scheduled=True, **dict(row)) if row is not None else None


# --- quarantine -----------------------------------------------------------------------


async def unknown_tenants(db: Executor, tenant_ids: Sequence[str]) -> set[str]:
    """Those of ``tenant_ids`` the projection has never heard of."""
    rows = await db.fetch(
        """
        SELECT id FROM unnest($1::text[]) AS id
        WHERE NOT EXISTS (SELECT 1 FROM poller_tenants t WHERE t.tenant_id = id)
        """,
        list(tenant_ids),
    )
    return {r["id"] for r in rows}


async def record_quarantine(db: Executor, folders: dict[str, int]) -> None:
    """Folders of unknown tenants and their mail count; folders now known are dropped."""
    await db.execute(
        """
        WITH gone AS (DELETE FROM poller_quarantine WHERE NOT folder = ANY($1::text[]))
        INSERT INTO poller_quarantine (folder, messages)
        SELECT * FROM unnest($1::text[], $2::int[])
        ON CONFLICT (folder) DO UPDATE SET messages = EXCLUDED.messages, last_seen = now()
        """,
        list(folders),
        list(folders.values()),
    )


async def quarantined(db: Executor) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT folder, messages, first_seen, last_seen FROM poller_quarantine ORDER BY folder"
    )
    return rows


class PostgresQuarantine:
    """``ports.QuarantineStore`` on the pool."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def unknown_tenants(self, tenant_ids: Sequence[str]) -> set[str]:
        return await unknown_tenants(self.db, tenant_ids)

    async def record_quarantine(self, folders: dict[str, int]) -> None:
        await record_quarantine(self.db, folders)

    async def quarantined(self) -> list[QuarantinedFolder]:
        return [
            QuarantinedFolder(folder=r["folder"], messages=r["messages"], since=r["first_seen"])
            for r in await quarantined(self.db)
        ]


def failed_args(failure: PollFailure) -> tuple[str, list[float], int, float]:
    """``_FAILED``'s $3–$6 (error, delays, their last index, at least)."""
    delays = list(failure.delays)
    return failure.error, delays, len(delays) - 1, failure.at_least
