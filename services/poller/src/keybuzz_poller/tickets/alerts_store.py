"""All SQL of response alerts (asyncpg): the once-per-deadline rows, the tenant's lead time;
``PostgresAlerts``, the ``AlertStore`` port on a pool or a unit of work's connection."""

from __future__ import annotations

from datetime import datetime, timedelta

from keybuzz_shared.db import Executor

from keybuzz_poller.tickets.ports import DueAlert

DEFAULT_LEAD_SECONDS = 2 * 3600
# An overdue alert is news for a day: a deadline that passed longer ago (a ticket left
# unanswered before the alerts ran, or while they were down that long) gives none, so a
# first start does not flood the tenants with their old backlog.
OVERDUE_LOOKBACK = timedelta(hours=24)


async def claim_alerts(db: Executor, now: datetime, limit: int) -> list[DueAlert]:
    """The alerts due at ``now`` not yet given, each recorded here (ON CONFLICT: another
    instance or an earlier round gave it); the caller emits them in the same transaction."""
    rows = await db.fetch(
        """
        WITH due AS (
            SELECT t.id AS ticket_id, t.tenant_id, t.marketplace, t.respond_by, k.kind,
                   coalesce(s.lead_seconds, $3::int) AS lead_seconds
            FROM poller_tickets t
            LEFT JOIN poller_response_alert_settings s ON s.tenant_id = t.tenant_id
            CROSS JOIN (VALUES ('DUE'), ('OVERDUE')) AS k (kind)
            WHERE t.response_state = 'AWAITING_REPLY'
              AND t.respond_by <= $1::timestamptz + interval '1 day'
              AND CASE k.kind
                    WHEN 'OVERDUE' THEN t.respond_by <= $1 AND t.respond_by > $1 - $4::interval
                    -- Past the deadline only the overdue alert is news.
                    ELSE t.respond_by > $1
                         AND t.respond_by - make_interval(secs => coalesce(s.lead_seconds, $3)) <= $1
                  END
              AND NOT EXISTS (
                SELECT 1 FROM poller_response_alerts a
                WHERE a.ticket_id = t.id AND a.respond_by = t.respond_by AND a.kind = k.kind)
            ORDER BY t.respond_by
            LIMIT $2
        ), recorded AS (
            INSERT INTO poller_response_alerts (ticket_id, respond_by, kind, tenant_id)
            SELECT ticket_id, respond_by, kind, tenant_id FROM due
            ON CONFLICT DO NOTHING
            RETURNING ticket_id, respond_by, kind
        )
        SELECT due.* FROM due
        JOIN recorded USING (ticket_id, respond_by, kind)
        """,
        now,
        limit,
        DEFAULT_LEAD_SECONDS,
        OVERDUE_LOOKBACK,
    )
    return [DueAlert(**dict(r)) for r in rows]


async def deadline_counts(db: Executor, now: datetime) -> dict[str, int]:
    """Tickets by response state (OVERDUE apart) and, for those waiting, by time to deadline."""
    rows = await db.fetch(
        """
        SELECT CASE WHEN response_state <> 'AWAITING_REPLY' THEN response_state
                    WHEN respond_by <= $1::timestamptz THEN 'OVERDUE'
                    WHEN respond_by <= $1 + interval '1 hour' THEN 'within_1h'
                    WHEN respond_by <= $1 + interval '2 hours' THEN 'within_2h'
                    WHEN respond_by <= $1 + interval '6 hours' THEN 'within_6h'
                    ELSE 'later' END AS bucket,
               count(*) AS n
        FROM poller_tickets GROUP BY 1
        """,
        now,
    )
    return {r["bucket"]: int(r["n"]) for r in rows}


async def lead_seconds(db: Executor, tenant_id: str) -> int:
    value = await db.fetchval(
        "SELECT lead_seconds FROM poller_response_alert_settings WHERE tenant_id = $1", tenant_id
    )
    return int(value) if value is not None else DEFAULT_LEAD_SECONDS


async def save_lead_seconds(db: Executor, tenant_id: str, seconds: int) -> None:
    await db.execute(
        """
        INSERT INTO poller_response_alert_settings (tenant_id, lead_seconds) VALUES ($1, $2)
        ON CONFLICT (tenant_id) DO UPDATE SET lead_seconds = EXCLUDED.lead_seconds,
                                              updated_at = now()
        """,
        tenant_id,
        seconds,
    )


class PostgresAlerts:
    """``ports.AlertStore`` on ``db``: the pool, or a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def claim_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        return await claim_alerts(self.db, now, limit)

    async def deadline_counts(self, now: datetime) -> dict[str, int]:
        return await deadline_counts(self.db, now)

    async def lead_seconds(self, tenant_id: str) -> int:
        return await lead_seconds(self.db, tenant_id)

    async def save_lead_seconds(self, tenant_id: str, seconds: int) -> None:
        await save_lead_seconds(self.db, tenant_id, seconds)
