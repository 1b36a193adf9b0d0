"""The orders service's reads: a tenant's orders and backfill jobs, free of HTTP.

Results are domain read models (``OrderSummary``, ``OrderLine``, ``JobView``) and the
keyset cursor of the next page; ``app.py`` shapes them into responses, ``errors.py`` says what each refusal
is in HTTP. Another tenant's order or job is not found, exactly like one that
does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from keybuzz_shared.connectors.registry import marketplaces, served
from keybuzz_shared.pages import decode_cursor, encode_cursor, split_page
from keybuzz_shared.text import is_storable

from keybuzz_orders import store
from keybuzz_orders.backfill import store as job_store
from keybuzz_orders.backfill.jobs import JobView
from keybuzz_orders.domain import (
    InvalidOrderId,
    OrderLine,
    OrderNotFound,
    OrderSummary,
    as_utc,
    is_order_id,
)

MAX_SEARCH = 200


class InvalidSearch(ValueError):
    def __init__(self) -> None:
        super().__init__(f"q must be at most {MAX_SEARCH} characters, without NUL")


class InvalidMarketplace(ValueError):
    def __init__(self) -> None:
        super().__init__(f"marketplace must be one of {', '.join(marketplaces())}")


def _served(marketplace: str | None) -> str | None:
    """A ``marketplace`` filter: a value the registry serves (read now), or none."""
    if marketplace is not None and not served(marketplace):
        raise InvalidMarketplace()
    return marketplace


class InvalidJobId(ValueError):
    def __init__(self) -> None:
        super().__init__("jobId must be a UUID")


class JobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no backfill job {job_id} for this tenant")


@dataclass(frozen=True)
class OrdersPage:
    orders: list[OrderSummary]  # newest first
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class OrderWithItems:
    order: OrderSummary
    items: list[OrderLine]


async def list_orders(
    conn: store.Conn,
    tenant_id: str,
    *,
    statuses: Sequence[str] = (),
    marketplace: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    search: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> OrdersPage:
    """One page of the tenant's orders, newest first; ``cursor``: the last page's."""
    query = store.OrderFilter(
        statuses=statuses,
        marketplace=_served(marketplace),
        date_from=as_utc(date_from),
        date_to=as_utc(date_to),
        search=_search(search),
        after=decode_cursor(cursor, id_check=_uuid) if cursor else None,
        limit=limit + 1,  # one more tells whether there is a next page
    )
    rows = await store.list_orders(conn, tenant_id, query)
    page, last = split_page(rows, limit)
    next_cursor = encode_cursor(last["order_date"], last["id"]) if last else None
    return OrdersPage(orders=[OrderSummary(**row) for row in page], next_cursor=next_cursor)


async def get_order(
    conn: store.Conn, tenant_id: str, order_id: str, marketplace: str | None = None
) -> OrderWithItems:
    """One order by its marketplace's id; ``marketplace``, when given, is the only one looked in."""
    marketplace = _served(marketplace)
    if not is_order_id(order_id):
        raise InvalidOrderId()
    found = await store.get_order(conn, tenant_id, order_id, marketplace)
    if found is None:
        raise OrderNotFound(order_id)
    order, items = found
    return OrderWithItems(OrderSummary(**order), [OrderLine(**item) for item in items])


async def recent_jobs(conn: store.Conn, tenant_id: str, limit: int) -> list[JobView]:
    """The tenant's backfill jobs, newest first."""
    return [JobView.of_row(row) for row in await job_store.recent_jobs(conn, tenant_id, limit)]


async def get_job(conn: store.Conn, tenant_id: str, job_id: str) -> JobView:
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise InvalidJobId() from None
    job = await job_store.get_job(conn, job_id, tenant_id)
    if job is None:
        raise JobNotFound(job_id)
    return JobView.of_row(job)


def _search(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_SEARCH or not is_storable(text):
        raise InvalidSearch()
    return text.strip()


def _uuid(text: str) -> str:
    """A cursor's order id, as the keyset compares it (``ValueError``: not a UUID)."""
    return str(uuid.UUID(text))
