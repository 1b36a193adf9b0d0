"""All SQL of marketplace shops' polling (asyncpg): their schedule (``PostgresPollSchedule``
on ``poller_shops``) and their connection state (``shops/connection_ports.py``'s ``ShopConnections``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from keybuzz_shared.db import Executor

from keybuzz_poller.polling.domain import PollFailure
from keybuzz_poller.polling.store import PollTable, PostgresPollSchedule, failed_args
from keybuzz_poller.shops.connection_ports import CONNECTED, ShopStatus
from keybuzz_poller.shops.domain import CallsAsked, DayCalls, Shop, ShopStart, shop_of
from keybuzz_poller.shops.store import START_COLUMNS, PostgresShopCalls, shop_start
from keybuzz_poller.tickets import store as tickets_store

# A shop's calls of a daily allowance, as its last poll's end asked them
# (``poller_shop_reservations``), are reserved by the claim that leases it, all or none
# within their limit and on their day only: its poll then starts with no statement.
_RESERVED = """, reserved AS (
        INSERT INTO poller_shop_calls AS c (poll_key, day, calls)
        SELECT r.poll_key, r.day, r.calls
        FROM leased JOIN poller_shop_reservations r ON r.poll_key = leased.poll_key
        WHERE r.day = (now() AT TIME ZONE 'UTC')::date AND r.calls <= r.calls_limit
        ON CONFLICT (poll_key, day) DO UPDATE SET calls = c.calls + EXCLUDED.calls
        WHERE c.calls + EXCLUDED.calls <= (
            SELECT r.calls_limit FROM poller_shop_reservations r WHERE r.poll_key = c.poll_key)
        RETURNING c.poll_key, c.day, c.calls
    )"""
_RESERVED_JOIN = """
        LEFT JOIN reserved ON reserved.poll_key = leased.poll_key
        LEFT JOIN poller_shop_reservations asked ON asked.poll_key = reserved.poll_key"""

# A shop is polled while connected and its tenant not archived (a tenant the projection
# has not heard of yet is polled: its connection says it exists). Paced: a marketplace
# counts a shop's listings per interval from the calls it saw (an operator's frequency), so
# a poll claimed sooner after its time than the last one would land inside it (a 429).
SHOPS = PollTable(
    "poller_shops",
    "poll_key",
    f"""s.connection = '{CONNECTED}' AND NOT EXISTS (
        SELECT 1 FROM poller_tenants t WHERE t.tenant_id = s.tenant_id AND t.archived)""",
    paced=True,
    started=START_COLUMNS,
    claimed_with=_RESERVED,
    claimed_join=_RESERVED_JOIN,
    claimed_read=("reserved.day", "asked.calls", "asked.calls_limit", "reserved.calls"),
)


# What a poll's end carries into its statement, its own statement at every poll otherwise
# ($N… after the end's own parameters): a correction of the shop's day's count (day,
# delta; no day: none), and the messages the poll marked read at the marketplace, their
# pending marks cleared (tenant, marketplace, their ids: ``marked_read_sql``). Both are written
# whether or not the poll still held its lease: the calls were made, the marks were taken.
_COUNTED = """
    counted AS (
        INSERT INTO poller_shop_calls AS c (poll_key, day, calls)
        SELECT $1, ${day}::date, greatest(${delta}::int, 0) WHERE ${day}::date IS NOT NULL
        ON CONFLICT (poll_key, day) DO UPDATE SET calls = greatest(c.calls + ${delta}::int, 0)
    )"""
# And the calls its next poll's claim reserves (day, calls, limit; no day: none asked).
_ASKED = """
    asked AS (
        INSERT INTO poller_shop_reservations AS r (poll_key, day, calls, calls_limit)
        SELECT $1, ${day}::date, ${calls}::int, ${limit}::int WHERE ${day}::date IS NOT NULL
        ON CONFLICT (poll_key) DO UPDATE SET
            day = EXCLUDED.day, calls = EXCLUDED.calls, calls_limit = EXCLUDED.calls_limit
    )"""


def _carried(first: int) -> str:
    """The ``WITH`` items a poll's end carries, their parameters numbered from ``first``."""
    counted = _COUNTED.format(day=first, delta=first + 1)
    asked = _ASKED.format(day=first + 5, calls=first + 6, limit=first + 7)
    return f"{counted}, marked AS ({tickets_store.marked_read_sql(first + 2)}),{asked}"


class PostgresShopSchedule(PostgresPollSchedule):
    """The shops' schedule: rows come from ``connect``, never from a poll. A poll's end
    also sets its day's count of calls right (``DayCalls``: a budget's calls made, a
    reservation's not spent) and records the marks read it made, in the same statement."""

    def __init__(self, db: Executor) -> None:
        super().__init__(db, SHOPS)
        self._succeeded_carrying = (
            "WITH" + _carried(5) + ",\n" + (self._succeeded.strip().removeprefix("WITH"))
        )
        self._failed_carrying = "WITH" + _carried(7) + "\n" + self._failed
        self.calls = PostgresShopCalls(db)
        self._claimed: dict[str, ShopStart] = {}  # shop key → its start, as its claim read it

    def _leased(self, rows: list[asyncpg.Record]) -> None:
        for row in rows:
            read = tuple(row)[2:]
            day, calls, limit, day_calls = read[len(START_COLUMNS) :]
            reserved = CallsAsked(day, calls, limit) if day_calls is not None else None
            start = shop_start(read[: len(START_COLUMNS)], day_calls, reserved)
            self._claimed[row["key"]] = start

    def claimed_start(self, key: str) -> ShopStart | None:
        """The shop's start as the claim that leased it read it, once (None: not claimed so)."""
        return self._claimed.pop(key, None)

    async def poll_succeeded(
        self,
        tenant_id: str,
        owner: str,
        fetched: int,
        interval: float,
        calls: Sequence[DayCalls] = (),
        marked: Sequence[str] = (),
        reserve: CallsAsked | None = None,
    ) -> None:
        if not calls and not marked and reserve is None:
            return await super().poll_succeeded(tenant_id, owner, fetched, interval)
        carried, rest = _carried_args(tenant_id, calls, marked, reserve)
        await self.db.execute(
            self._succeeded_carrying, tenant_id, owner, fetched, interval, *carried
        )
        await self._counted(tenant_id, rest)

    async def poll_failed(
        self,
        tenant_id: str,
        owner: str,
        failure: PollFailure,
        calls: Sequence[DayCalls] = (),
        marked: Sequence[str] = (),
    ) -> None:
        if not calls and not marked:
            return await super().poll_failed(tenant_id, owner, failure)
        carried, rest = _carried_args(tenant_id, calls, marked)
        await self.db.execute(
            self._failed_carrying, tenant_id, owner, *failed_args(failure), *carried
        )
        await self._counted(tenant_id, rest)

    async def _counted(self, tenant_id: str, rest: list[DayCalls]) -> None:
        for correction in rest:
            await self.calls.adjust_calls(shop_of(tenant_id), correction.day, correction.delta)

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        """A shop is scheduled when it connects."""

    async def poll_soon(self, tenant_id: str) -> None:
        await self.db.execute(
            "UPDATE poller_shops SET next_poll_at = now() WHERE poll_key = $1", tenant_id
        )

    async def mark_delivered(self, tenant_id: str) -> None:
        """Nothing is delivered to a shop: the same as ``poll_soon``."""
        await self.poll_soon(tenant_id)

    async def is_pollable(self, tenant_id: str) -> bool:
        return bool(
            await self.db.fetchval(
                f"SELECT true FROM poller_shops s WHERE s.poll_key = $1 AND {SHOPS.pollable}",
                tenant_id,
            )
        )


def _carried_args(
    key: str, calls: Sequence[DayCalls], marked: Sequence[str], reserve: CallsAsked | None = None
) -> tuple[tuple[object, ...], list[DayCalls]]:
    """``_carried``'s arguments: the correction folded in (the first's day's; none without
    calls), the marks and the next poll's reservation; and the corrections of another day
    (a poll across midnight), which are not."""
    shop = shop_of(key)
    day = calls[0].day if calls else None
    same = sum(c.delta for c in calls if c.day == day)
    rest = [c for c in calls if c.day != day]
    asked = (reserve.day, reserve.calls, reserve.limit) if reserve else (None, 0, 0)
    return (day, same, shop.tenant_id, shop.marketplace, list(marked), *asked), rest


class PostgresShops:
    """``shops/connection_ports.py``'s ``ShopConnections`` on PostgreSQL."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def connect(self, shop: Shop, seller_id: str, as_of: datetime) -> bool:
        applied = await self.db.fetchval(
            """
            INSERT INTO poller_shops (poll_key, tenant_id, marketplace, seller_id, connection,
                                      connection_as_of, next_poll_at)
            VALUES ($1, $2, $3, $4, 'CONNECTED', $5, now())
            ON CONFLICT (poll_key) DO UPDATE SET
                seller_id = EXCLUDED.seller_id, connection = 'CONNECTED',
                connection_as_of = EXCLUDED.connection_as_of, next_poll_at = now(),
                consecutive_failures = 0
            WHERE poller_shops.connection_as_of < EXCLUDED.connection_as_of
            RETURNING true
            """,
            shop.key,
            shop.tenant_id,
            shop.marketplace,
            seller_id,
            as_of,
        )
        return bool(applied)

    async def disconnect(self, shop: Shop, connection: str, as_of: datetime) -> str | None:
        seller_id: str | None = await self.db.fetchval(
            """
            UPDATE poller_shops SET connection = $2, connection_as_of = $3
            WHERE poll_key = $1 AND connection_as_of < $3
            RETURNING seller_id
            """,
            shop.key,
            connection,
            as_of,
        )
        return seller_id

    async def forget_received(self, shop: Shop) -> int:
        deleted = await tickets_store.forget_shop_received(
            self.db, shop.tenant_id, shop.marketplace
        )
        await self.db.execute(
            "UPDATE poller_shops SET messages_since = NULL, incidents_since = NULL"
            " WHERE poll_key = $1",
            shop.key,
        )
        return deleted

    async def polled_shops(self, marketplace: str) -> int:
        polled: int = await self.db.fetchval(
            f"SELECT count(*) FROM poller_shops s WHERE s.marketplace = $1 AND {SHOPS.pollable}",
            marketplace,
        )
        return polled

    async def statuses(self, tenant_id: str) -> list[ShopStatus]:
        rows = await self.db.fetch(
            """
            SELECT marketplace, seller_id, connection,
                   lease_owner IS NOT NULL AND lease_expires_at > now() AS polling,
                   next_poll_at, last_poll_at, last_success_at, last_error, last_error_at,
                   consecutive_failures, messages_fetched, coalesce(c.calls, 0) AS calls_today
            FROM poller_shops s
            LEFT JOIN poller_shop_calls c
                   ON c.poll_key = s.poll_key AND c.day = (now() AT TIME ZONE 'UTC')::date
            WHERE tenant_id = $1 ORDER BY marketplace
            """,
            tenant_id,
        )
        return [ShopStatus(**dict(r)) for r in rows]
