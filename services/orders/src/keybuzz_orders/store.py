"""All SQL of the orders service (asyncpg, plain set-based SQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from keybuzz_shared.app_budgets import RoundPace
from keybuzz_shared.db import Executor
from keybuzz_shared.pages import Position

from keybuzz_orders.backfill.jobs import JobCounts
from keybuzz_orders.domain import OrderRow, is_order_id
from keybuzz_orders.ports import SyncCursor

Conn = Executor  # a connection or the pool: both run one statement

# --- orders ---------------------------------------------------------------------------------

_ORDER_COLUMNS = (
    "marketplace_id",
    "customer_name",
    "customer_email",
    "order_date",
    "marketplace_updated_at",
    "currency",
    "total_amount",
    "order_status",
    "marketplace_status",
    "fulfillment_channel",
    "delivery_status",
    "ship_by",
    "carrier",
    "tracking_code",
    "shipping_address",
    "shipped_at",
    "delivered_at",
    "sales_channel",
)

# One statement per page. The update only happens when something the source says changed
# and the snapshot is not older than the stored one, so a rerun writes nothing.
# Restricted data a marketplace stops returning becomes NULL here too (it must not
# outlive the marketplace's own retention); sav_status belongs to the helpdesk and is never written.
UPSERT_ORDERS = f"""
INSERT INTO orders (tenant_id, marketplace, source, external_order_id, order_ref,
                    {", ".join(_ORDER_COLUMNS)})
SELECT $1, $2, 'API', t.external_order_id, t.order_ref, t.marketplace_id, t.customer_name,
       t.customer_email, t.order_date, t.marketplace_updated_at, t.currency, t.total_amount,
       t.order_status::order_status, t.marketplace_status, t.fulfillment_channel,
       t.delivery_status::order_delivery_status, t.ship_by, t.carrier, t.tracking_code,
       t.shipping_address::jsonb, t.shipped_at, t.delivered_at, t.sales_channel
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
            $9::timestamptz[], $10::text[], $11::numeric[], $12::text[], $13::text[],
            $14::text[], $15::text[], $16::timestamptz[], $17::text[], $18::text[],
            $19::text[], $20::timestamptz[], $21::timestamptz[], $22::text[])
     AS t(external_order_id, order_ref, {", ".join(_ORDER_COLUMNS)})
ON CONFLICT (tenant_id, marketplace, external_order_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _ORDER_COLUMNS)}, source = 'API', updated_at = now()
WHERE EXCLUDED.marketplace_updated_at >= orders.marketplace_updated_at
  AND (orders.source <> 'API'  -- a report row gets the API's full data
       OR ({", ".join(f"orders.{c}" for c in _ORDER_COLUMNS)})
          IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _ORDER_COLUMNS)}))
RETURNING (xmax = 0) AS inserted
"""  # noqa: S608 - column names are constants of this module, values are parameters

# What the flat file carries. A report row never overwrites an API row's data unless
# it is strictly newer, and then only these columns (buyer, packages, ship-by stay).
REPORT_COLUMNS = (
    "marketplace_id",
    "order_date",
    "marketplace_updated_at",
    "currency",
    "total_amount",
    "order_status",
    "marketplace_status",
    "fulfillment_channel",
    "delivery_status",
)
UPSERT_REPORT_ORDERS = f"""
INSERT INTO orders (tenant_id, marketplace, source, external_order_id, order_ref,
                    {", ".join(REPORT_COLUMNS)}, shipping_address)
SELECT $1, $2, 'REPORT', t.external_order_id, t.order_ref, t.marketplace_id, t.order_date,
       t.marketplace_updated_at, t.currency, t.total_amount, t.order_status::order_status,
       t.marketplace_status, t.fulfillment_channel, t.delivery_status::order_delivery_status,
       t.shipping_address::jsonb
FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
            $8::text[], $9::numeric[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::text[])
     AS t(external_order_id, order_ref, {", ".join(REPORT_COLUMNS)}, shipping_address)
ON CONFLICT (tenant_id, marketplace, external_order_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in REPORT_COLUMNS)},
    shipping_address = coalesce(orders.shipping_address, EXCLUDED.shipping_address),
    updated_at = now()
WHERE (CASE WHEN orders.source = 'REPORT'
            THEN EXCLUDED.marketplace_updated_at >= orders.marketplace_updated_at
            ELSE EXCLUDED.marketplace_updated_at > orders.marketplace_updated_at END)
  AND ({", ".join(f"orders.{c}" for c in REPORT_COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in REPORT_COLUMNS)})
RETURNING (xmax = 0) AS inserted
"""  # noqa: S608 - column names are constants of this module, values are parameters

# API items replace the report's stand-ins (the flat file has no order item id).
DELETE_REPORT_ITEMS = """
DELETE FROM order_items i USING orders o
WHERE i.order_id = o.id AND o.tenant_id = $1 AND o.marketplace = $2
  AND o.external_order_id = ANY($3::text[]) AND i.external_item_id LIKE 'report:%'
"""

UPSERT_ITEMS = """
INSERT INTO order_items (order_id, external_item_id, sku, asin, title, quantity,
                         unit_price, currency, marketplace_state, refunded_amount)
SELECT o.id, t.external_item_id, t.sku, t.asin, t.title, t.quantity, t.unit_price, t.currency,
       t.marketplace_state, t.refunded_amount
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
            $9::numeric[], $10::text[], $12::text[], $13::numeric[])
     AS t(external_order_id, external_item_id, sku, asin, title, quantity, unit_price, currency,
          marketplace_state, refunded_amount)
JOIN orders o ON o.tenant_id = $1 AND o.marketplace = $2
             AND o.external_order_id = t.external_order_id
  AND ($11::boolean OR o.source = 'REPORT')  -- report items only for report rows
ON CONFLICT (order_id, external_item_id) DO UPDATE SET
    sku = EXCLUDED.sku, asin = EXCLUDED.asin, title = EXCLUDED.title,
    quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price,
    currency = EXCLUDED.currency, marketplace_state = EXCLUDED.marketplace_state,
    refunded_amount = EXCLUDED.refunded_amount, updated_at = now()
WHERE (order_items.sku, order_items.asin, order_items.title, order_items.quantity,
       order_items.unit_price, order_items.currency, order_items.marketplace_state,
       order_items.refunded_amount)
      IS DISTINCT FROM (EXCLUDED.sku, EXCLUDED.asin, EXCLUDED.title, EXCLUDED.quantity,
                        EXCLUDED.unit_price, EXCLUDED.currency, EXCLUDED.marketplace_state,
                        EXCLUDED.refunded_amount)
"""


async def upsert_orders(
    conn: asyncpg.Connection,
    tenant_id: str,
    marketplace: str,
    rows: Sequence[OrderRow],
    *,
    partial: bool = False,
) -> JobCounts:
    """What storing ``rows`` did: orders, created/updated/unchanged, cancelled, items.

    ``partial``: rows without the buyer and the packages (an orders report, Orders v0),
    which never erase what an API read stored.
    """
    if not rows:
        return JobCounts()
    order_ids = [r.external_order_id for r in rows]
    columns: tuple[str, ...]
    if partial:
        statement, columns = UPSERT_REPORT_ORDERS, (*REPORT_COLUMNS, "shipping_address")
    else:
        statement, columns = UPSERT_ORDERS, _ORDER_COLUMNS
    values = ([_db_value(getattr(r, c)) for r in rows] for c in columns)
    written = await conn.fetch(
        statement, tenant_id, marketplace, order_ids, [r.order_ref for r in rows], *values
    )
    if not partial:
        await conn.execute(DELETE_REPORT_ITEMS, tenant_id, marketplace, order_ids)
    return await _upsert_items(conn, tenant_id, marketplace, rows, written, from_api=not partial)


async def _upsert_items(
    conn: asyncpg.Connection,
    tenant_id: str,
    marketplace: str,
    rows: Sequence[OrderRow],
    written: list[asyncpg.Record],
    *,
    from_api: bool,
) -> JobCounts:
    created = sum(1 for w in written if w["inserted"])
    items = [(r.external_order_id, i) for r in rows for i in r.items]
    await conn.execute(
        UPSERT_ITEMS,
        tenant_id,
        marketplace,
        [order_id for order_id, _ in items],
        [i.external_item_id for _, i in items],
        [i.sku for _, i in items],
        [i.asin for _, i in items],
        [i.title for _, i in items],
        [i.quantity for _, i in items],
        [i.unit_price for _, i in items],
        [i.currency for _, i in items],
        from_api,
        [i.marketplace_state for _, i in items],
        [i.refunded_amount for _, i in items],
    )
    return JobCounts(
        orders=len(rows),
        created=created,
        updated=len(written) - created,
        unchanged=len(rows) - len(written),
        cancelled=sum(1 for r in rows if r.cancelled),
        items=len(items),
    )


def _db_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


async def known_order_ids(
    conn: Conn, tenant_id: str, marketplace: str, order_ids: Sequence[str]
) -> set[str]:
    """Orders we hold with the API's data (report rows lack buyer and packages)."""
    rows = await conn.fetch(
        "SELECT external_order_id FROM orders WHERE tenant_id = $1 AND marketplace = $2"
        " AND external_order_id = ANY($3::text[]) AND source = 'API'",
        tenant_id,
        marketplace,
        list(order_ids),
    )
    return {r["external_order_id"] for r in rows}


@dataclass(frozen=True)
class OrderFilter:
    statuses: Sequence[str] = ()
    marketplace: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    search: str | None = None
    # Keyset: strictly older than this (order_date, id).
    after: Position | None = None
    limit: int = 50


_SUMMARY_COLUMNS = """
SELECT o.id::text, o.external_order_id, o.order_ref, o.marketplace, o.marketplace_id,
       o.customer_name, o.customer_email, o.order_date, o.currency, o.total_amount::text,
       o.order_status::text, o.marketplace_status, o.delivery_status::text, o.sav_status::text,
       o.ship_by, o.carrier, o.tracking_code, o.shipping_address::text, o.shipped_at,
       o.delivered_at, o.fulfillment_channel, o.sales_channel, o.created_at, o.updated_at
"""
_SUMMARY = _SUMMARY_COLUMNS + " FROM orders o"


class _Params:
    """Bound parameters of a statement built from the filters actually given."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _common_conditions(
    p: _Params, tenant_id: str, f: OrderFilter, dated: tuple[str, str] = ("o", "id")
) -> list[str]:
    """Tenant, status, marketplace, dates and keyset: each present only when given (one
    plan per shape).

    ``dated`` names where the date and the id are read from: the orders (``o``, ``id``),
    or the name-word rows a name search walks in order (``w``, ``order_id``).
    """
    table, id_column = dated
    conditions = [f"{table}.tenant_id = {p(tenant_id)}"]
    if len(f.statuses) == 1:  # one status: orders_tenant_status_date is already in order
        conditions.append(f"o.order_status = {p(f.statuses[0])}::order_status")
    elif f.statuses:
        conditions.append(f"o.order_status = ANY({p(list(f.statuses))}::order_status[])")
    if f.marketplace is not None:  # a tenant has few: a filter on the newest-first walk
        conditions.append(f"o.marketplace = {p(f.marketplace)}")
    if f.date_from is not None:
        conditions.append(f"{table}.order_date >= {p(f.date_from)}")
    if f.date_to is not None:
        conditions.append(f"{table}.order_date < {p(f.date_to)}")
    if f.after is not None:
        keyset = f"({table}.order_date, {table}.{id_column})"
        conditions.append(f"{keyset} < ({p(f.after.at)}, {p(f.after.id)}::uuid)")
    return conditions


_REF = re.compile(r"#?\d{6}")


def _search_branches(p: _Params, search: str) -> list[str]:
    """One condition on the orders per way ``q`` can match, each served by an index.

    Exact SKU or ASIN always (item indexes → their orders). An order id of any
    marketplace's format is looked up by its unique index; one without a letter, or an
    order ref (``#`` + six digits, typed with or without ``#``), is nothing else and is
    not searched in names or e-mails (``_searches_names``).
    Anything else: the beginning of the e-mail address, case-insensitive, as a range of
    ``orders_tenant_email_prefix`` (a range, not ``LIKE 'x%'``, so that the prepared
    statement's generic plan uses the index too); a text with a blank is no address.
    Names have a branch of their own (``_name_branch``).
    """
    text = p(search)
    branches = [
        f"o.id IN (SELECT i.order_id FROM order_items i WHERE i.sku = {text} OR i.asin = {text})"
    ]
    if is_order_id(search):
        branches.append(f"o.external_order_id = {text}")
        if _only_an_id(search):
            return branches
    if _REF.fullmatch(search):
        return [*branches, f"o.order_ref = {p('#' + search.lstrip('#'))}"]
    if not any(c.isspace() for c in search):
        prefix = search.lower()
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first text past the prefix
        branches.append(
            f"lower(o.customer_email) ~>=~ {p(prefix)} AND lower(o.customer_email) ~<~ {p(after)}"
        )
    return branches


def _only_an_id(search: str) -> bool:
    """An order id without a letter: no name or address looks like it."""
    return is_order_id(search) and not any(c.isalpha() for c in search)


def _searches_names(search: str) -> bool:
    return not _only_an_id(search) and not _REF.fullmatch(search)


def _name_branch(p: _Params, tenant_id: str, f: OrderFilter, limit: str) -> str:
    """Orders whose customer name holds every word of ``q`` (migration 006).

    The walk starts at the longest word (usually the rarest) in ``order_name_words``,
    newest first from the keyset, and checks the other words in the same index entry
    (``name_key``): it stops once ``limit`` orders match, whatever the table's size.
    Words are the database's (``name_search_words``: lower case, no accents).
    """
    words = f"unnest(name_search_words({p(f.search)})) AS x"
    walked = f"(SELECT x FROM {words} ORDER BY length(x) DESC, x LIMIT 1)"
    conditions = [
        *_common_conditions(p, tenant_id, f, dated=("w", "order_id")),
        f"w.word = {walked}",
        f"w.name_key LIKE ALL (ARRAY(SELECT '% ' || x || ' %' FROM {words} WHERE x <> {walked}))",
    ]
    return (
        f"({_SUMMARY_COLUMNS} FROM order_name_words w JOIN orders o ON o.id = w.order_id"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY w.order_date DESC, w.order_id DESC LIMIT {limit})"
    )


_NEWEST_FIRST = "ORDER BY o.order_date DESC, o.id DESC"


def list_orders_query(tenant_id: str, f: OrderFilter) -> tuple[str, list[Any]]:
    """The statement for ``f``: only the filters given, values always bound.

    A search is a UNION of one newest-first, limited branch per kind of match: each
    branch is planned on its own index (an OR across them would leave the planner a
    scan of the tenant's orders), and the newest ``limit`` of the union are the newest
    of the branches' newest ``limit``. Every branch's plan suits any value, so the
    prepared statement's generic plan is as good as a custom one.
    """
    p = _Params()
    where = " AND ".join(_common_conditions(p, tenant_id, f))
    limit = p(f.limit)
    if f.search is None:
        return f"{_SUMMARY} WHERE {where} {_NEWEST_FIRST} LIMIT {limit}", p.values
    branches = [
        f"({_SUMMARY} WHERE {where} AND {match} {_NEWEST_FIRST} LIMIT {limit})"
        for match in _search_branches(p, f.search)
    ]
    if _searches_names(f.search):
        branches.append(_name_branch(p, tenant_id, f, limit))
    # The branches return the id as text: the final order is on the uuid, as the keyset's.
    newest = "ORDER BY o.order_date DESC, o.id::uuid DESC"
    return f"SELECT * FROM ({' UNION '.join(branches)}) AS o {newest} LIMIT {limit}", p.values


async def list_orders(conn: Conn, tenant_id: str, f: OrderFilter) -> list[asyncpg.Record]:
    sql, values = list_orders_query(tenant_id, f)
    rows: list[asyncpg.Record] = await conn.fetch(sql, *values)
    return rows


async def get_order(
    conn: Conn, tenant_id: str, external_order_id: str, marketplace: str | None
) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    if isinstance(conn, asyncpg.Pool):  # both reads on one connection: one pool round
        async with conn.acquire() as acquired:
            return await get_order(acquired, tenant_id, external_order_id, marketplace)
    order = await conn.fetchrow(
        _SUMMARY
        + " WHERE o.tenant_id = $1 AND o.external_order_id = $2"
        + " AND ($3::text IS NULL OR o.marketplace = $3)",
        tenant_id,
        external_order_id,
        marketplace,
    )
    if order is None:
        return None
    items = await conn.fetch(
        "SELECT external_item_id, sku, asin, title, quantity, unit_price::text, currency,"
        " marketplace_state, refunded_amount::text FROM order_items WHERE order_id = $1::uuid"
        " ORDER BY external_item_id",
        order["id"],
    )
    return order, items


# --- incremental sync -----------------------------------------------------------------------


async def start_sync_cursor(
    conn: Conn, tenant_id: str, marketplace: str, marketplace_id: str, cursor: datetime
) -> None:
    """A completed backfill hands over to the incremental sync from the source's cursor."""
    await conn.execute(
        """
INSERT INTO order_sync_cursors (tenant_id, marketplace, marketplace_id, last_updated_before,
                                last_run_at)
VALUES ($1, $2, $3, $4, now())  -- the backfill just read everything: first round in one interval
ON CONFLICT (tenant_id, marketplace) DO UPDATE SET
    marketplace_id = EXCLUDED.marketplace_id, status = 'ACTIVE', last_error = NULL,
    last_updated_before = EXCLUDED.last_updated_before, last_run_at = now(), updated_at = now()
""",
        tenant_id,
        marketplace,
        marketplace_id,
        cursor,
    )


async def claim_due_syncs(
    conn: Conn,
    interval_seconds: float,
    tenant_id: str | None = None,
    paces: Mapping[str, RoundPace] | None = None,
) -> list[asyncpg.Record]:
    """Cursors due for a round (or ``tenant_id``'s now), claimed by stamping last_run_at;
    a marketplace named in ``paces`` is due after its own pace (``RoundPace.after`` of what
    the shop's last round spent, ``last_round_calls``).

    A marketplace with a running backfill of the tenant waits: its completion moves
    that cursor.
    """
    own = dict(paces or {})
    rows: list[asyncpg.Record] = await conn.fetch(
        """
UPDATE order_sync_cursors c SET last_run_at = now()
WHERE c.status = 'ACTIVE'
  AND ($2::text IS NULL
       AND (c.last_run_at IS NULL
            OR c.last_run_at < now() - make_interval(secs => COALESCE(
                (SELECT CASE WHEN c.last_round_calls > 0
                             THEN GREATEST(o.secs, o.spread * c.last_round_calls / o.per_round)
                             ELSE o.secs END
                 FROM unnest($3::text[], $4::float8[], $5::float8[], $6::float8[])
                      AS o(marketplace, secs, spread, per_round)
                 WHERE o.marketplace = c.marketplace), $1)))
       OR c.tenant_id = $2)
  AND NOT EXISTS (SELECT 1 FROM order_backfill_jobs j
                  WHERE j.tenant_id = c.tenant_id AND j.marketplace = c.marketplace
                    AND j.status = 'RUNNING')
RETURNING c.tenant_id, c.marketplace, c.marketplace_id, c.last_updated_before
""",
        interval_seconds,
        tenant_id,
        list(own),
        [p.interval for p in own.values()],
        [p.spread for p in own.values()],
        [p.calls_per_round for p in own.values()],
    )
    return rows


async def note_round_calls(conn: Conn, tenant_id: str, marketplace: str, calls: int) -> None:
    await conn.execute(
        "UPDATE order_sync_cursors SET last_round_calls = $3"
        " WHERE tenant_id = $1 AND marketplace = $2",
        tenant_id,
        marketplace,
        calls,
    )


async def syncing_shops(conn: Conn, marketplace: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM order_sync_cursors WHERE marketplace = $1 AND status = 'ACTIVE'",
        marketplace,
    )
    return count


async def advance_sync_cursor(
    conn: Conn, tenant_id: str, marketplace: str, previous: datetime, cursor: datetime, seen: int
) -> bool:
    """Move the cursor if nobody else did meanwhile (False: another round got there first)."""
    status = await conn.execute(
        """
UPDATE order_sync_cursors SET last_updated_before = $4, runs = runs + 1,
    orders_seen = orders_seen + $5, last_error = NULL, updated_at = now()
WHERE tenant_id = $1 AND marketplace = $2 AND last_updated_before = $3 AND status = 'ACTIVE'
""",
        tenant_id,
        marketplace,
        previous,
        cursor,
        seen,
    )
    return bool(status == "UPDATE 1")


async def note_sync_error(
    conn: Conn, tenant_id: str, marketplace: str, error: str, *, stop: bool
) -> None:
    await conn.execute(
        "UPDATE order_sync_cursors SET last_error = $3, updated_at = now(),"
        " status = CASE WHEN $4 THEN 'STOPPED' ELSE status END"
        " WHERE tenant_id = $1 AND marketplace = $2",
        tenant_id,
        marketplace,
        error,
        stop,
    )


async def stop_sync(conn: Conn, tenant_id: str, reason: str, marketplace: str | None) -> None:
    await conn.execute(
        "UPDATE order_sync_cursors SET status = 'STOPPED', last_error = $2, updated_at = now()"
        " WHERE tenant_id = $1 AND ($3::text IS NULL OR marketplace = $3)",
        tenant_id,
        reason,
        marketplace,
    )


async def sync_cursor(conn: Conn, tenant_id: str, marketplace: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM order_sync_cursors WHERE tenant_id = $1 AND marketplace = $2",
        tenant_id,
        marketplace,
    )


class PostgresOrderStore:
    """``ports.OrderStore`` on a connection (a unit of work's) or on the pool."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def upsert_orders(
        self, tenant_id: str, marketplace: str, rows: Sequence[OrderRow], *, partial: bool = False
    ) -> JobCounts:
        if isinstance(self.conn, asyncpg.Connection):
            return await upsert_orders(self.conn, tenant_id, marketplace, rows, partial=partial)
        async with self.conn.acquire() as conn, conn.transaction():  # several statements
            return await upsert_orders(conn, tenant_id, marketplace, rows, partial=partial)

    async def known_order_ids(
        self, tenant_id: str, marketplace: str, order_ids: Collection[str]
    ) -> set[str]:
        return await known_order_ids(self.conn, tenant_id, marketplace, list(order_ids))

    async def start_sync(
        self, tenant_id: str, marketplace: str, marketplace_id: str, cursor: datetime
    ) -> None:
        await start_sync_cursor(self.conn, tenant_id, marketplace, marketplace_id, cursor)

    async def claim_due_syncs(
        self,
        interval_seconds: float,
        tenant_id: str | None = None,
        *,
        paces: Mapping[str, RoundPace] | None = None,
    ) -> list[SyncCursor]:
        rows = await claim_due_syncs(self.conn, interval_seconds, tenant_id, paces)
        return [
            SyncCursor(
                r["tenant_id"], r["marketplace"], r["marketplace_id"], r["last_updated_before"]
            )
            for r in rows
        ]

    async def syncing_shops(self, marketplace: str) -> int:
        return await syncing_shops(self.conn, marketplace)

    async def note_round_calls(self, tenant_id: str, marketplace: str, calls: int) -> None:
        await note_round_calls(self.conn, tenant_id, marketplace, calls)

    async def advance_sync(self, cursor: SyncCursor, to: datetime, seen: int) -> bool:
        return await advance_sync_cursor(
            self.conn, cursor.tenant_id, cursor.marketplace, cursor.updated_before, to, seen
        )

    async def note_sync_error(
        self, tenant_id: str, marketplace: str, error: str, *, stop: bool
    ) -> None:
        await note_sync_error(self.conn, tenant_id, marketplace, error, stop=stop)

    async def stop_sync(self, tenant_id: str, reason: str, marketplace: str | None = None) -> None:
        await stop_sync(self.conn, tenant_id, reason, marketplace)

    async def purge_received(self, tenant_id: str, marketplace: str) -> int:
        # order_items go with their order (ON DELETE CASCADE), name words by trigger.
        await self.conn.execute(
            "DELETE FROM order_detail_fetches WHERE tenant_id = $1 AND marketplace = $2",
            tenant_id,
            marketplace,
        )
        deleted: int = await self.conn.fetchval(
            "WITH gone AS (DELETE FROM orders WHERE tenant_id = $1 AND marketplace = $2"
            " RETURNING 1) SELECT count(*) FROM gone",
            tenant_id,
            marketplace,
        )
        return deleted

    async def marketplace_of(self, tenant_id: str, order_id: str) -> str | None:
        found: str | None = await self.conn.fetchval(
            "SELECT marketplace_id FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            tenant_id,
            order_id,
        )
        return found
