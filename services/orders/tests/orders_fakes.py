"""In-memory ports of orders for the unit tier (no server). Held to the real adapters by
contract tests that run the same scenarios on both: ``test_notification_store_contract.py``,
``test_job_store_contract.py``, ``test_order_store_contract.py`` (PostgreSQL) and
``test_order_source_contract.py`` (the SP-API adapter on the Amazon sandbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from keybuzz_connector_amazon import CredentialsMissing
from keybuzz_connector_amazon.credentials import tenant_credentials_path
from keybuzz_connector_amazon.messaging import (
    MessageBody,
    MessagingAction,
    MessagingActionNotAllowed,
)
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_orders.backfill.jobs import (
    ORDERS_V0,
    REPORT,
    JobCounts,
    JobView,
    PageProgress,
    ReportState,
    ReportWindow,
)
from keybuzz_orders.domain import ItemRow, OrderRow, OrderStatus, new_order_row, supersedes
from keybuzz_orders.order_source import (
    FetchedOrders,
    NotFound,
    OrderWindow,
    QueryRefused,
    ReportOrders,
    ReportStage,
    ReportStatus,
    SourceError,
    SourcePage,
    SourceRefused,
    UnreadableOrder,
    each_order,
)
from keybuzz_orders.ports import (
    BackfillPorts,
    BackfillStore,
    ChangeSubscription,
    DetailFetch,
    DetailPorts,
    DetailStore,
    HeldSubscription,
    NotificationStore,
    OrdersPorts,
    OrderStore,
    SyncCursor,
    SyncPorts,
)
from keybuzz_orders.settings import OrdersSettings
from keybuzz_orders.store import REPORT_COLUMNS
from keybuzz_shared.app_budgets import RoundPace

S = TypeVar("S", bound=msgspec.Struct)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FR = "A13V1IB3VIYZZH"  # Amazon.fr's marketplace id


def item(
    item_id: str, sku: str = "SKU", asin: str | None = "B0TEST", title: str | None = "Mug"
) -> ItemRow:
    """One line of one unit, no price (Amazon withholds it until the order ships)."""
    return ItemRow(
        external_item_id=item_id,
        sku=sku,
        asin=asin,
        title=title,
        quantity=1,
        unit_price=None,
        currency=None,
    )


def shipped_order(
    order_id: str,
    *,
    placed: datetime,
    updated: datetime,
    items: Sequence[ItemRow] = (),
    customer_name: str | None = None,
) -> OrderRow:
    """An Amazon.fr order, shipped: what most tests need a row of."""
    return new_order_row(
        order_id,
        OrderStatus.SHIPPED,
        "SHIPPED",
        marketplace_id=FR,
        order_date=placed,
        marketplace_updated_at=updated,
        items=list(items),
        customer_name=customer_name,
    )


def job_view(**fields: Any) -> JobView:
    """A job as the store returns it, fresh from its start (``fields`` replace defaults)."""
    defaults: dict[str, Any] = {
        "job_id": "job-1",
        "tenant_id": "t-shop",
        "marketplace": AMAZON,
        "marketplace_id": "A13V1IB3VIYZZH",
        "status": "RUNNING",
        "owner": "me",
        "pagination_token": None,
        "tail_after": None,
        "trigger": "http",
        "days": 90,
        "created_after": "2026-08-25T09:30:15Z",
        "created_before": None,
        "newest_order_at": None,
        "last_error": None,
        "reason": None,
        "started_at": NOW,
        "updated_at": NOW,
        "finished_at": None,
        "strategy": None,
        "strategy_reason": None,
        "phase": None,
        "report_windows": None,
        "counts": JobCounts(),
    }
    return JobView(**(defaults | fields))


@dataclass
class HeldOrder:
    """What the summary upsert keeps of an order (the columns a notification writes)."""

    row: OrderRow
    items: dict[str, ItemRow] = field(default_factory=dict)


class InMemoryNotificationStore:
    def __init__(self) -> None:
        # (tenant, marketplace) -> (seller id, its subscription)
        self.subscriptions: dict[tuple[str, str], tuple[str, HeldSubscription]] = {}
        self.notifications: dict[str, str] = {}  # id -> STALE | APPLIED
        self.orders: dict[tuple[str, str, str], HeldOrder] = {}
        self.wanted: set[tuple[str, str, str]] = set()

    def subscribe(self, tenant_id: str, seller_id: str, marketplace: str) -> None:
        self.subscriptions[(tenant_id, marketplace)] = (
            seller_id,
            HeldSubscription("ACTIVE", "eu", "s-1"),
        )

    async def save_subscription(
        self,
        tenant_id: str,
        marketplace: str,
        seller_id: str,
        region: str,
        subscription_id: str,
        destination_id: str,
    ) -> None:
        held = HeldSubscription("ACTIVE", region, subscription_id)
        self.subscriptions[(tenant_id, marketplace)] = (seller_id, held)

    async def subscription(self, tenant_id: str, marketplace: str) -> HeldSubscription | None:
        found = self.subscriptions.get((tenant_id, marketplace))
        return None if found is None else found[1]

    async def end_subscription(self, tenant_id: str, marketplace: str) -> None:
        if found := self.subscriptions.get((tenant_id, marketplace)):
            ended = HeldSubscription("DELETED", found[1].region, None)
            self.subscriptions[(tenant_id, marketplace)] = (found[0], ended)

    async def tenant_of_seller(self, seller_id: str, marketplace: str) -> str | None:
        return next(
            (
                tenant
                for (tenant, m), (seller, held) in self.subscriptions.items()
                if (seller, m, held.status) == (seller_id, marketplace, "ACTIVE")
            ),
            None,
        )

    async def claim_notification(
        self, notification_id: str, tenant_id: str, order_id: str, change_time: datetime
    ) -> bool:
        if notification_id in self.notifications:
            return False
        self.notifications[notification_id] = "STALE"
        return True

    async def apply_summary(self, tenant_id: str, marketplace: str, row: OrderRow) -> bool:
        key = (tenant_id, marketplace, row.external_order_id)
        held = self.orders.get(key)
        if held is None:
            self.orders[key] = held = HeldOrder(row)
        else:
            old = held.row
            if not supersedes(
                row.marketplace_updated_at,
                row.order_status,
                old.marketplace_updated_at,
                old.order_status,
            ):
                return False
            same_status = old.order_status is row.order_status
            held.row = _replace(
                old,
                marketplace_updated_at=row.marketplace_updated_at,
                order_status=row.order_status,
                marketplace_status=row.marketplace_status,
                fulfillment_channel=row.fulfillment_channel or old.fulfillment_channel,
                delivery_status=old.delivery_status if same_status else row.delivery_status,
                ship_by=row.ship_by or old.ship_by,
            )
        for item in row.items:
            known = held.items.get(item.external_item_id)
            held.items[item.external_item_id] = _replace(
                known or item, quantity=item.quantity, sku=item.sku or (known and known.sku)
            )
        return True

    async def note_applied(self, notification_id: str) -> None:
        self.notifications[notification_id] = "APPLIED"

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        self.wanted.add((tenant_id, marketplace, order_id))


def _replace(struct: S, **changes: object) -> S:
    return msgspec.structs.replace(struct, **changes)


class InMemoryJobStore:
    """Jobs by id, with the table's two rules: one RUNNING job per tenant and marketplace,
    one job per event."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.jobs: dict[str, JobView] = {}
        self.events: dict[str, str] = {}  # source event id -> job id
        self.leases: dict[str, datetime] = {}  # a running job's owner holds it until then
        self.now = clock or (lambda: datetime.now(UTC))

    async def job_for_event(self, event_id: str) -> JobView | None:
        job_id = self.events.get(event_id)
        return None if job_id is None else self.jobs[job_id]

    async def running_job(self, tenant_id: str, marketplace: str) -> JobView | None:
        running = (j for j in self.jobs.values() if j.status == "RUNNING")
        return next(
            (j for j in running if (j.tenant_id, j.marketplace) == (tenant_id, marketplace)), None
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
        if await self.running_job(tenant_id, marketplace) or (source_event_id in self.events):
            return None
        job = job_view(
            job_id=f"job-{len(self.jobs) + 1}",
            tenant_id=tenant_id,
            marketplace=marketplace,
            marketplace_id=marketplace_id,
            owner=owner,
            trigger=trigger,
            days=days,
            created_after=created_after,
        )
        self.leases[job.job_id] = self.now() + timedelta(seconds=lease_seconds)
        self.jobs[job.job_id] = job
        if source_event_id:
            self.events[source_event_id] = job.job_id
        return job

    def end(self, job_id: str, status: str) -> None:
        self.jobs[job_id] = _replace(self.jobs[job_id], status=status)

    async def get_job(self, job_id: str) -> JobView | None:
        return self.jobs.get(job_id)

    def _ours(self, job_id: str, owner: str | None) -> JobView | None:
        job = self.jobs.get(job_id)
        if job is None or job.status != "RUNNING" or (owner is not None and job.owner != owner):
            return None
        return job

    def _save(self, job: JobView, lease_seconds: float | None = None, **changes: Any) -> JobView:
        self.jobs[job.job_id] = saved = _replace(job, updated_at=self.now(), **changes)
        if lease_seconds is not None:
            self.leases[job.job_id] = self.now() + timedelta(seconds=lease_seconds)
        return saved

    def _progress(self, job: JobView, p: PageProgress) -> dict[str, Any]:
        newest = max((t for t in (job.newest_order_at, p.newest_order_at) if t), default=None)
        return {
            "counts": job.counts + p.counts,
            "newest_order_at": newest,
            "last_error": None,
            "created_before": p.created_before or job.created_before,
        }

    async def checkpoint_job(
        self,
        job_id: str,
        owner: str,
        p: PageProgress,
        lease_seconds: float,
        strategy: tuple[str, str] | None = None,
    ) -> JobView | None:
        if (job := self._ours(job_id, owner)) is None:
            return None
        done = p.next_token is None
        return self._save(
            job,
            lease_seconds,
            **self._progress(job, p),
            pagination_token=p.next_token,
            status="COMPLETED" if done else job.status,
            finished_at=self.now() if done else None,
            owner=None if done else job.owner,
            strategy=strategy[0] if strategy else job.strategy,
            strategy_reason=strategy[1] if strategy else job.strategy_reason,
        )

    async def advance_job(
        self, job_id: str, owner: str, p: PageProgress, state: ReportState, lease_seconds: float
    ) -> JobView | None:
        if (job := self._ours(job_id, owner)) is None:
            return None
        windows = state.windows if state.windows is not None else job.report_windows
        if state.window is not None:
            index, window = state.window
            windows = [*(job.report_windows or [])]
            windows[index] = msgspec.convert(msgspec.to_builtins(window), type(window))
        elif windows is not None:  # stored as JSON: a copy, never the caller's objects
            windows = msgspec.convert(msgspec.to_builtins(windows), list[ReportWindow])
        return self._save(
            job,
            lease_seconds,
            **self._progress(job, p),
            strategy=REPORT,
            pagination_token=None,
            report_windows=windows,
            phase=state.phase or job.phase,
            tail_after=state.tail_after or job.tail_after,
            strategy_reason=state.strategy_reason or job.strategy_reason,
        )

    async def restart_window(self, job_id: str, owner: str) -> None:
        if job := self._ours(job_id, owner):
            self._save(job, pagination_token=None)

    async def switch_to_orders_v0(self, job_id: str, owner: str, reason: str) -> None:
        if job := self._ours(job_id, owner):
            self._save(job, strategy=ORDERS_V0, strategy_reason=reason, pagination_token=None)

    async def note_error(self, job_id: str, owner: str, error: str, waits: int) -> None:
        if job := self._ours(job_id, owner):
            counts = job.counts.but(rate_limit_waits=job.counts.rate_limit_waits + waits)
            self._save(job, last_error=error, counts=counts)

    async def end_job(
        self, job_id: str, status: str, reason: str, owner: str | None
    ) -> JobView | None:
        if (job := self._ours(job_id, owner)) is None:
            return None
        return self._save(job, status=status, reason=reason, finished_at=self.now(), owner=None)

    async def claim_orphans(self, owner: str, lease_seconds: float) -> list[str]:
        now, claimed = self.now(), []
        for job in list(self.jobs.values()):
            lease = self.leases.get(job.job_id)
            if job.status == "RUNNING" and (job.owner is None or lease is None or lease < now):
                self._save(job, lease_seconds, owner=owner)
                claimed.append(job.job_id)
        return claimed

    async def renew_leases(self, owner: str, lease_seconds: float) -> None:
        for job in self.jobs.values():
            if job.owner == owner and job.status == "RUNNING":
                self.leases[job.job_id] = self.now() + timedelta(seconds=lease_seconds)

    async def release_jobs(self, owner: str) -> None:
        for job in list(self.jobs.values()):
            if job.owner == owner and job.status == "RUNNING":
                self._save(job, owner=None)
                self.leases.pop(job.job_id, None)

    async def running_jobs_of(self, tenant_id: str) -> list[str]:
        return [
            j.job_id
            for j in self.jobs.values()
            if j.tenant_id == tenant_id and j.status == "RUNNING"
        ]


class InMemoryMarketplaces:
    def __init__(self) -> None:
        self.connected: dict[str, str] = {}  # tenant -> marketplace id

    async def marketplace_id(self, tenant_id: str, marketplace: str = AMAZON) -> str:
        if tenant_id not in self.connected:
            raise CredentialsMissing(tenant_id, tenant_credentials_path(tenant_id))
        return self.connected[tenant_id]


# What a partial row (a report's, Orders v0's) writes over an order held: the store's own
# list; a full read writes every field.
REPORT_FIELDS = REPORT_COLUMNS


@dataclass
class StoredOrder:
    row: OrderRow
    full: bool  # read from the API (a partial row lacks the buyer and the packages)


@dataclass
class HeldCursor:
    marketplace_id: str
    updated_before: datetime
    last_run_at: datetime | None
    status: str = "ACTIVE"
    last_error: str | None = None
    runs: int = 0
    seen: int = 0
    last_round_calls: int = 0


def _fields(row: OrderRow, names: Sequence[str]) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in names)


def _without_items(row: OrderRow) -> OrderRow:
    return _replace(row, items=[])


class InMemoryOrderStore(InMemoryJobStore):
    """Orders, sync cursors and backfill jobs in one object: a unit of work's rollback
    restores them together, as a transaction does (a tenant's running job holds its sync)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(clock)
        self.orders: dict[tuple[str, str, str], StoredOrder] = {}
        self.cursors: dict[tuple[str, str], HeldCursor] = {}

    async def upsert_orders(
        self, tenant_id: str, marketplace: str, rows: Sequence[OrderRow], *, partial: bool = False
    ) -> JobCounts:
        if not rows:
            return JobCounts()
        created = updated = 0
        for row in rows:
            key = (tenant_id, marketplace, row.external_order_id)
            held = self.orders.get(key)
            if held is None:
                self.orders[key] = StoredOrder(row, full=not partial)
                created += 1
            elif partial:
                old = held.row
                at, then = row.marketplace_updated_at, old.marketplace_updated_at
                newer = at > then if held.full else at >= then
                if newer and _fields(row, REPORT_FIELDS) != _fields(old, REPORT_FIELDS):
                    held.row = _replace(old, **{f: getattr(row, f) for f in REPORT_FIELDS})
                    updated += 1
            elif row.marketplace_updated_at >= held.row.marketplace_updated_at and (
                not held.full or _without_items(row) != _without_items(held.row)
            ):
                self.orders[key] = StoredOrder(row, full=True)
                updated += 1
            if held is not None and not partial:  # an API read's items are upserted anyway
                stored = self.orders[key]
                items = {i.external_item_id: i for i in (*stored.row.items, *row.items)}
                stored.row = _replace(stored.row, items=list(items.values()))
        return JobCounts(
            orders=len(rows),
            created=created,
            updated=updated,
            unchanged=len(rows) - created - updated,
            cancelled=sum(1 for r in rows if r.cancelled),
            items=sum(len(r.items) for r in rows),
        )

    async def known_order_ids(
        self, tenant_id: str, marketplace: str, order_ids: Collection[str]
    ) -> set[str]:
        return {
            o
            for o in order_ids
            if (held := self.orders.get((tenant_id, marketplace, o))) and held.full
        }

    async def marketplace_of(self, tenant_id: str, order_id: str) -> str | None:
        found = (s.row for (t, _, o), s in self.orders.items() if (t, o) == (tenant_id, order_id))
        return next((row.marketplace_id for row in found), None)

    async def start_sync(
        self, tenant_id: str, marketplace: str, marketplace_id: str, cursor: datetime
    ) -> None:
        held = self.cursors.get((tenant_id, marketplace))
        runs, seen = (held.runs, held.seen) if held else (0, 0)
        self.cursors[(tenant_id, marketplace)] = HeldCursor(
            marketplace_id, cursor, last_run_at=self.now(), runs=runs, seen=seen
        )

    async def claim_due_syncs(
        self,
        interval_seconds: float,
        tenant_id: str | None = None,
        *,
        paces: Mapping[str, RoundPace] | None = None,
    ) -> list[SyncCursor]:
        now, claimed = self.now(), []
        for (tenant, marketplace), held in self.cursors.items():
            if held.status != "ACTIVE" or await self.running_job(tenant, marketplace):
                continue
            if tenant_id is None:
                pace = (paces or {}).get(marketplace)
                own = pace.after(held.last_round_calls) if pace else interval_seconds
                due_before = now - timedelta(seconds=own)
                if held.last_run_at is not None and held.last_run_at >= due_before:
                    continue
            elif tenant != tenant_id:
                continue
            held.last_run_at = now
            claimed.append(
                SyncCursor(tenant, marketplace, held.marketplace_id, held.updated_before)
            )
        return claimed

    async def note_round_calls(self, tenant_id: str, marketplace: str, calls: int) -> None:
        held = self.cursors.get((tenant_id, marketplace))
        if held is not None:
            held.last_round_calls = calls

    async def syncing_shops(self, marketplace: str) -> int:
        return sum(
            held.status == "ACTIVE" and held_marketplace == marketplace
            for (_, held_marketplace), held in self.cursors.items()
        )

    async def advance_sync(self, cursor: SyncCursor, to: datetime, seen: int) -> bool:
        held = self.cursors.get((cursor.tenant_id, cursor.marketplace))
        if held is None or held.status != "ACTIVE" or held.updated_before != cursor.updated_before:
            return False
        held.updated_before, held.last_error = to, None
        held.runs, held.seen = held.runs + 1, held.seen + seen
        return True

    async def note_sync_error(
        self, tenant_id: str, marketplace: str, error: str, *, stop: bool
    ) -> None:
        if held := self.cursors.get((tenant_id, marketplace)):
            held.last_error = error
            held.status = "STOPPED" if stop else held.status

    async def stop_sync(self, tenant_id: str, reason: str, marketplace: str | None = None) -> None:
        for (tenant, held_marketplace), held in self.cursors.items():
            if tenant == tenant_id and marketplace in (None, held_marketplace):
                held.status, held.last_error = "STOPPED", reason

    async def purge_received(self, tenant_id: str, marketplace: str) -> int:
        gone = [key for key in self.orders if key[:2] == (tenant_id, marketplace)]
        for key in gone:
            del self.orders[key]
        return len(gone)


@dataclass
class HeldFetch:
    wanted_at: datetime
    leased_until: datetime | None = None


class InMemoryDetailStore(InMemoryOrderStore):
    """Orders and the fetches of their details, in one object (one rollback for both)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(clock)
        self.fetches: dict[tuple[str, str, str], HeldFetch] = {}

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        key = (tenant_id, marketplace, order_id)
        leased = self.fetches[key].leased_until if key in self.fetches else None
        self.fetches[key] = HeldFetch(self.now(), leased)

    async def claim_detail_fetches(self, limit: int, lease_seconds: float) -> list[DetailFetch]:
        now = self.now()
        due = sorted(
            (
                (k, f)
                for k, f in self.fetches.items()
                if f.leased_until is None or f.leased_until < now
            ),
            key=lambda kf: kf[1].wanted_at,
        )[:limit]
        for _, held in due:
            held.leased_until = now + timedelta(seconds=lease_seconds)
        return [DetailFetch(*key, held.wanted_at) for key, held in due]

    async def detail_fetched(self, fetch: DetailFetch) -> None:
        key = (fetch.tenant_id, fetch.marketplace, fetch.order_id)
        if (held := self.fetches.get(key)) and held.wanted_at <= fetch.wanted_at:
            del self.fetches[key]

    async def pending_detail_fetches(self) -> int:
        return len(self.fetches)


class FakeOrderSource:
    """A marketplace's orders API in memory: each tenant's seller's orders, listed oldest
    first a page at a time (the token is opaque), the window closed at ``now`` (the
    source's cursor). ``failures`` are raised by the next calls, one each."""

    def __init__(self, now: datetime = NOW, *, partial: bool = False) -> None:
        self.sellers: dict[str, dict[str, OrderRow]] = {}  # tenant -> order id -> order
        self.now = now
        self.partial = partial  # its rows lack the buyer and packages (Orders v0's)
        self.failures: list[SourceError] = []
        self.windows: list[OrderWindow] = []  # the windows asked for, in order
        self.asked: list[str] = []  # the orders asked for one by one
        self.gives_cursor = True  # False: pages without the source's cursor

    def add(self, tenant_id: str, *rows: OrderRow) -> None:
        self.sellers.setdefault(tenant_id, {}).update({r.external_order_id: r for r in rows})

    def _seller(self, tenant_id: str) -> dict[str, OrderRow]:
        if self.failures:
            raise self.failures.pop(0)
        if tenant_id not in self.sellers:
            raise SourceRefused(f"no credentials for tenant {tenant_id}")
        return self.sellers[tenant_id]

    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        self.windows.append(window)
        orders = self._seller(tenant_id)
        by_update = window.updated_after is not None
        end = window.created_before or self.now

        def moment(row: OrderRow) -> datetime:
            return row.marketplace_updated_at if by_update else row.order_date

        start = window.updated_after if by_update else window.created_after
        listed = sorted(
            (
                r
                for r in orders.values()
                if (start is None or moment(r) >= start) and moment(r) < end
            ),
            key=lambda r: (moment(r), r.external_order_id),
        )
        try:
            offset = int(window.page_token or 0)
        except ValueError:
            raise QueryRefused(f"invalid page token {window.page_token!r}") from None
        page = listed[offset : offset + window.page_size]
        more = offset + window.page_size < len(listed)
        return SourcePage(
            orders=page,
            next_token=str(offset + window.page_size) if more else None,
            created_before=end if self.gives_cursor and not by_update else None,
            updated_before=end if self.gives_cursor and by_update else None,
            partial=self.partial,
        )

    async def order(self, tenant_id: str, order_id: str) -> OrderRow:
        self.asked.append(order_id)
        found = self._seller(tenant_id).get(order_id)
        if found is None:
            raise NotFound(f"no order {order_id} for this seller")
        return found

    async def orders_by_ids(self, tenant_id: str, order_ids: Sequence[str]) -> FetchedOrders:
        return await each_order(self.order, tenant_id, order_ids)


@dataclass
class HeldReport:
    tenant_id: str
    start: datetime
    end: datetime
    polls: int = 0


class FakeOrderReports:
    """Order reports in memory over a ``FakeOrderSource``'s orders: a report is DONE once
    polled ``polls_until_done`` times (``outcome`` FAILED: the source gives up; PENDING:
    it never finishes); its document lists the window's orders oldest first, as partial
    rows, with ``unreadable`` ids among them."""

    def __init__(self, source: FakeOrderSource) -> None:
        self.source = source
        self.reports: dict[str, HeldReport] = {}
        self.polls_until_done = 1
        self.outcome = ReportStage.DONE
        self.unreadable: set[str] = set()

    async def request(
        self, tenant_id: str, marketplace_id: str, start: datetime, end: datetime
    ) -> tuple[str, int]:
        report_id = f"report-{len(self.reports) + 1}"
        self.reports[report_id] = HeldReport(tenant_id, start, end)
        return report_id, 0

    async def status(self, tenant_id: str, report_id: str) -> ReportStatus:
        report = self.reports.get(report_id)
        if report is None or report.tenant_id != tenant_id:
            raise NotFound(f"no report {report_id}")
        report.polls += 1
        if self.outcome is ReportStage.FAILED:
            return ReportStatus(ReportStage.FAILED, "FATAL")
        if self.outcome is ReportStage.PENDING or report.polls < self.polls_until_done:
            return ReportStatus(ReportStage.PENDING, "IN_PROGRESS")
        return ReportStatus(ReportStage.DONE, "DONE", document_id=f"doc-{report_id}")

    async def orders(self, tenant_id: str, document_id: str, marketplace_id: str) -> ReportOrders:
        report = self.reports[document_id.removeprefix("doc-")]
        rows = sorted(
            (
                r
                for r in self.source.sellers.get(tenant_id, {}).values()
                if report.start <= r.order_date < report.end
            ),
            key=lambda r: (r.order_date, r.external_order_id),
        )

        async def each() -> AsyncIterator[OrderRow | UnreadableOrder]:
            for row in rows:
                if row.external_order_id in self.unreadable:
                    yield UnreadableOrder(row.external_order_id, "unreadable line")
                else:
                    yield _replace(row, customer_name=None, customer_email=None)

        return ReportOrders(each())


class FakeBuyerMessaging:
    """The marketplace's templated messages: the actions each order allows, and what was
    asked and sent; an action not allowed is refused as Amazon refuses it."""

    def __init__(self) -> None:
        self.allowed: dict[str, list[str]] = {}  # order id -> action names
        self.asked: list[tuple[str, str, str]] = []
        self.sent: list[tuple[str, str, str, MessagingAction, MessageBody]] = []

    async def actions_for_order(
        self, tenant_id: str, order_id: str, marketplace_id: str
    ) -> list[str]:
        self.asked.append((tenant_id, order_id, marketplace_id))
        return list(self.allowed.get(order_id, []))

    async def send(
        self,
        tenant_id: str,
        order_id: str,
        marketplace_id: str,
        action: MessagingAction,
        body: MessageBody,
    ) -> None:
        if action.value not in self.allowed.get(order_id, []):
            raise MessagingActionNotAllowed(
                action.value, 403, "Unauthorized", "This action is not allowed for this order"
            )
        self.sent.append((tenant_id, order_id, marketplace_id, action, body))


class FakeOrderChanges:
    """The marketplace's order-change notifications: each tenant's seller (id, region), the
    destinations made, the subscriptions (one per seller)."""

    def __init__(self) -> None:
        self.sellers: dict[str, tuple[str, str]] = {}  # tenant -> (seller id, region)
        self.destinations: dict[str, str] = {}  # region -> destination id
        self.subscriptions: dict[str, ChangeSubscription] = {}  # tenant -> its subscription
        self.deleted: list[str] = []

    async def seller(self, tenant_id: str) -> tuple[str, str]:
        if tenant_id not in self.sellers:
            raise CredentialsMissing(tenant_id, tenant_credentials_path(tenant_id))
        return self.sellers[tenant_id]

    async def destination(self, region: str) -> str:
        return self.destinations.setdefault(region, f"dest-{region}")

    async def subscription(self, tenant_id: str) -> ChangeSubscription | None:
        return self.subscriptions.get(tenant_id)

    async def subscribe(self, tenant_id: str, destination_id: str) -> ChangeSubscription:
        made = ChangeSubscription(
            f"sub-{len(self.deleted) + len(self.subscriptions) + 1}", destination_id
        )
        self.subscriptions[tenant_id] = made
        return made

    async def unsubscribe(self, region: str, subscription_id: str) -> None:
        self.deleted.append(subscription_id)
        self.subscriptions = {
            t: s for t, s in self.subscriptions.items() if s.subscription_id != subscription_id
        }


@dataclass
class FakeOrders:
    notifications: InMemoryNotificationStore
    units: InMemoryUnitOfWork[NotificationStore]
    jobs: InMemoryJobStore
    marketplaces: InMemoryMarketplaces
    orders: InMemoryOrderStore
    order_units: InMemoryUnitOfWork[OrderStore]
    source: FakeOrderSource
    fallback: FakeOrderSource
    reports: FakeOrderReports
    backfill_units: InMemoryUnitOfWork[BackfillStore]
    details: InMemoryDetailStore
    detail_units: InMemoryUnitOfWork[DetailStore]
    ports: OrdersPorts


def fake_orders() -> FakeOrders:
    store = InMemoryNotificationStore()
    units: InMemoryUnitOfWork[NotificationStore] = InMemoryUnitOfWork(store)
    orders = InMemoryOrderStore(clock=lambda: NOW)
    jobs, marketplaces = orders, InMemoryMarketplaces()
    order_units: InMemoryUnitOfWork[OrderStore] = InMemoryUnitOfWork(orders)
    source, fallback = FakeOrderSource(), FakeOrderSource(partial=True)
    reports = FakeOrderReports(source)
    backfill_units: InMemoryUnitOfWork[BackfillStore] = InMemoryUnitOfWork(orders)
    backfill = BackfillPorts(
        jobs,
        marketplaces,
        clock=lambda: NOW,
        lease_seconds=120.0,
        units=backfill_units,
        source=source,
        fallback=fallback,
        reports=reports,
        settings=OrdersSettings(),
    )
    sync = SyncPorts(orders, order_units, source, page_size=100, interval_seconds=900.0)
    details = InMemoryDetailStore(clock=lambda: NOW)
    detail_units: InMemoryUnitOfWork[DetailStore] = InMemoryUnitOfWork(details)
    ports = OrdersPorts(
        notification_units=units,
        backfill=backfill,
        sync=sync,
        orders=orders,
        order_units=order_units,
        source=source,
        details=DetailPorts(details, detail_units, source),
        clock=lambda: NOW,
    )
    return FakeOrders(
        store,
        units,
        jobs,
        marketplaces,
        orders,
        order_units,
        source,
        fallback,
        reports,
        backfill_units,
        details,
        detail_units,
        ports,
    )
