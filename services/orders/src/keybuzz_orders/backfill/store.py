"""SQL of backfill jobs (asyncpg): a job's row, its checkpoints, its lease."""

from __future__ import annotations

import asyncpg
import msgspec

from keybuzz_orders.backfill.jobs import (
    COUNTERS,
    JobView,
    PageProgress,
    ReportState,
    encode_windows,
)
from keybuzz_orders.store import Conn, PostgresOrderStore

JOB_COLUMNS = "*, id::text AS job_id"


async def recent_jobs(conn: Conn, tenant_id: str, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {JOB_COLUMNS} FROM order_backfill_jobs"  # noqa: S608
        " WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        tenant_id,
        limit,
    )
    return rows


async def get_job(conn: Conn, job_id: str, tenant_id: str | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM order_backfill_jobs"  # noqa: S608
        " WHERE id = $1::uuid AND ($2::text IS NULL OR tenant_id = $2)",
        job_id,
        tenant_id,
    )


def _view(row: asyncpg.Record | None) -> JobView | None:
    return None if row is None else JobView.of_row(row)


# A step's counts ($3 … $11, in JobCounts' order) added to its job's.
_ADD_COUNTS = ", ".join(f"{name} = {name} + ${n}" for n, name in enumerate(COUNTERS, start=3))


class PostgresJobStore:
    """``ports.JobStore`` on the pool: what starting a job needs, as ``JobView``s."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def job_for_event(self, event_id: str) -> JobView | None:
        return _view(
            await self.conn.fetchrow(
                f"SELECT {JOB_COLUMNS} FROM order_backfill_jobs WHERE source_event_id = $1",  # noqa: S608
                event_id,
            )
        )

    async def running_job(self, tenant_id: str, marketplace: str) -> JobView | None:
        return _view(
            await self.conn.fetchrow(
                f"SELECT {JOB_COLUMNS} FROM order_backfill_jobs"  # noqa: S608
                " WHERE tenant_id = $1 AND marketplace = $2 AND status = 'RUNNING'",
                tenant_id,
                marketplace,
            )
        )

    async def insert_job(
        self,
        *,
        tenant_id: str,
        marketplace: str,
        marketplace_id: str,
        trigger: str,
        days: int,
        created_after: str,
        owner: str,
        lease_seconds: float,
        source_event_id: str | None,
    ) -> JobView | None:
        """The new job, or None when the tenant already has one running on the marketplace
        (or the event started one)."""
        row = await self.conn.fetchrow(
            f"""
INSERT INTO order_backfill_jobs (tenant_id, marketplace, marketplace_id, trigger, days,
                                 created_after, owner, lease_until, source_event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9)
ON CONFLICT DO NOTHING
RETURNING {JOB_COLUMNS}
""",  # noqa: S608
            tenant_id,
            marketplace,
            marketplace_id,
            trigger,
            days,
            created_after,
            owner,
            lease_seconds,
            source_event_id,
        )
        return _view(row)

    async def get_job(self, job_id: str) -> JobView | None:
        return _view(await get_job(self.conn, job_id))

    # --- running a job ------------------------------------------------------------

    async def checkpoint_job(
        self,
        job_id: str,
        owner: str,
        p: PageProgress,
        lease_seconds: float,
        strategy: tuple[str, str] | None = None,
    ) -> JobView | None:
        """Record one page (committed with its orders); the last page completes the job.

        None: the job is not ours to run (cancelled, or taken over after our lease ran out).
        """
        row = await self.conn.fetchrow(
            f"""
    UPDATE order_backfill_jobs SET
        {_ADD_COUNTS},
        pagination_token = $12,
        created_before = coalesce($13, created_before),
        newest_order_at = greatest(newest_order_at, $14),
        status = CASE WHEN $12::text IS NULL THEN 'COMPLETED' ELSE status END,
        finished_at = CASE WHEN $12::text IS NULL THEN now() END,
        owner = CASE WHEN $12::text IS NULL THEN NULL ELSE owner END,
        last_error = NULL,
        lease_until = now() + make_interval(secs => $15),
        strategy = coalesce($16, strategy), strategy_reason = coalesce($17, strategy_reason),
        updated_at = now()
    WHERE id = $1::uuid AND owner = $2 AND status = 'RUNNING'
    RETURNING {JOB_COLUMNS}
    """,  # noqa: S608
            job_id,
            owner,
            *msgspec.structs.astuple(p.counts),
            p.next_token,
            p.created_before,
            p.newest_order_at,
            lease_seconds,
            strategy[0] if strategy else None,
            strategy[1] if strategy else None,
        )
        return _view(row)

    async def advance_job(
        self,
        job_id: str,
        owner: str,
        p: PageProgress,
        state: ReportState,
        lease_seconds: float,
    ) -> JobView | None:
        """A step of a REPORT job (committed with its orders); it never completes the job:
        the searchOrders tail does, through ``checkpoint_job``. None: not ours."""
        row = await self.conn.fetchrow(
            f"""
    UPDATE order_backfill_jobs SET
        {_ADD_COUNTS},
        strategy = 'REPORT', pagination_token = NULL,
        created_before = coalesce($12, created_before),
        newest_order_at = greatest(newest_order_at, $13),
        report_windows = CASE WHEN $19::int IS NULL THEN coalesce($14::jsonb, report_windows)
                              ELSE jsonb_set(report_windows, ARRAY[$19::text], $20::jsonb) END,
        phase = coalesce($15, phase),
        tail_after = coalesce($16, tail_after), strategy_reason = coalesce($17, strategy_reason),
        last_error = NULL, lease_until = now() + make_interval(secs => $18), updated_at = now()
    WHERE id = $1::uuid AND owner = $2 AND status = 'RUNNING'
    RETURNING {JOB_COLUMNS}
    """,  # noqa: S608
            job_id,
            owner,
            *msgspec.structs.astuple(p.counts),
            p.created_before,
            p.newest_order_at,
            encode_windows(state.windows) if state.windows is not None else None,
            state.phase,
            state.tail_after,
            state.strategy_reason,
            lease_seconds,
            state.window[0] if state.window else None,
            encode_windows(state.window[1]) if state.window else None,
        )
        return _view(row)

    async def restart_window(self, job_id: str, owner: str) -> None:
        """The source refused our pagination token (expired): read the window again (idempotent)."""
        await self.conn.execute(
            "UPDATE order_backfill_jobs SET pagination_token = NULL, updated_at = now()"
            " WHERE id = $1::uuid AND owner = $2 AND status = 'RUNNING'",
            job_id,
            owner,
        )

    async def switch_to_orders_v0(self, job_id: str, owner: str, reason: str) -> None:
        """Orders 2026-01-01 refused: the job reads its window again through Orders v0.

        The searchOrders token means nothing to getOrders, so the window starts over
        (pages already stored are upserted again: unchanged, never duplicated).
        """
        await self.conn.execute(
            "UPDATE order_backfill_jobs SET strategy = 'ORDERS_V0', strategy_reason = $3,"
            " pagination_token = NULL, updated_at = now()"
            " WHERE id = $1::uuid AND owner = $2 AND status = 'RUNNING'",
            job_id,
            owner,
            reason,
        )

    async def note_error(self, job_id: str, owner: str, error: str, waits: int) -> None:
        await self.conn.execute(
            "UPDATE order_backfill_jobs SET last_error = $3,"
            " rate_limit_waits = rate_limit_waits + $4, updated_at = now()"
            " WHERE id = $1::uuid AND owner = $2 AND status = 'RUNNING'",
            job_id,
            owner,
            error,
            waits,
        )

    async def end_job(
        self, job_id: str, status: str, reason: str, owner: str | None
    ) -> JobView | None:
        """FAILED/CANCELLED with the reason; ``owner`` None: whoever runs it (a cancellation)."""
        row = await self.conn.fetchrow(
            f"""
    UPDATE order_backfill_jobs SET status = $2, reason = $3, finished_at = now(), owner = NULL,
        updated_at = now()
    WHERE id = $1::uuid AND status = 'RUNNING' AND ($4::text IS NULL OR owner = $4)
    RETURNING {JOB_COLUMNS}
    """,  # noqa: S608
            job_id,
            status,
            reason,
            owner,
        )
        return _view(row)

    async def claim_orphans(self, owner: str, lease_seconds: float) -> list[str]:
        """Running jobs nobody holds (released at a clean stop, or a runner's lease ran out)."""
        rows = await self.conn.fetch(
            """
    UPDATE order_backfill_jobs SET owner = $1, lease_until = now() + make_interval(secs => $2),
        updated_at = now()
    WHERE status = 'RUNNING' AND (owner IS NULL OR lease_until < now())
    RETURNING id::text
    """,
            owner,
            lease_seconds,
        )
        return [r["id"] for r in rows]

    async def renew_leases(self, owner: str, lease_seconds: float) -> None:
        await self.conn.execute(
            "UPDATE order_backfill_jobs SET lease_until = now() + make_interval(secs => $2)"
            " WHERE owner = $1 AND status = 'RUNNING'",
            owner,
            lease_seconds,
        )

    async def release_jobs(self, owner: str) -> None:
        """At a clean stop: let the next process (or another instance) resume them at once."""
        await self.conn.execute(
            "UPDATE order_backfill_jobs SET owner = NULL, lease_until = NULL, updated_at = now()"
            " WHERE owner = $1 AND status = 'RUNNING'",
            owner,
        )

    async def running_jobs_of(self, tenant_id: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1 AND status = 'RUNNING'",
            tenant_id,
        )
        return [r["id"] for r in rows]


class PostgresBackfillStore(PostgresOrderStore, PostgresJobStore):
    """``ports.BackfillStore``: a step's orders and its job's checkpoint on one transaction."""
