"""The order source and its reports, one contract for their adapters: the fakes of the
unit tier (``orders_fakes.FakeOrderSource``, ``FakeOrderReports``), the SP-API adapters
(``connectors.amazon.order_feed.SpApiOrderSource``, ``SpApiOrderReports``) and, for the order source, the
connector seam's (``connector_source.ConnectorOrderSource`` on a Fnac shop), on a sandbox
of its own, over HTTP. A window read page by page, one order, orders by id, a window's
report, and the failures as the ports name them; and the buyer messaging fake against the
Messaging client."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_connector_amazon import LwaClient, SpApiClient, TokenService
from keybuzz_connector_amazon.messaging import (
    MessageBody,
    MessagingAction,
    MessagingActionNotAllowed,
    MessagingClient,
)
from keybuzz_connector_amazon.order_feed import SpApiOrderReports, SpApiOrderSource
from keybuzz_connector_fnac.connector import FNAC
from keybuzz_devstack import infra
from keybuzz_devstack.testing import eventually, shop_api_at
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_orders.domain import OrderRow, OrderStatus
from keybuzz_orders.order_source import (
    NotFound,
    OrderReports,
    OrderSource,
    OrderWindow,
    QueryRefused,
    ReportStage,
    ReportStatus,
    SourcePage,
    SourceRefused,
    SourceUnavailable,
)
from keybuzz_orders.ports import BuyerMessaging
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.errors import is_outage
from keybuzz_shared.vault import VaultClient
from orders_fakes import (
    NOW,
    FakeBuyerMessaging,
    FakeOrderReports,
    FakeOrderSource,
    item,
    shipped_order,
)
from orders_testkit import FR, connect_directly, new_tenant

APP_SOURCE = "orders-source-contract"
UNKNOWN = "999-0000000-0000000"
PAGE = 25  # a few pages of the sandbox seller's ~90 orders, within the burst


@dataclass
class Contract:
    source: OrderSource
    tenant: str
    now: datetime  # the source's present
    outage: Callable[[], Awaitable[None]]  # the next call finds the source down
    refused_tenant: str = "t-never-connected"  # a tenant whose credentials are refused
    sized_pages: bool = True  # False: the source's own page size (Fnac's), not ``page_size``
    unknown: str = UNKNOWN  # an order id of the source's form that the seller does not have


@pytest.fixture(scope="module")
async def amazon(stack: Any) -> AsyncIterator[tuple[str, str]]:
    # Sped up 60 times: a report Amazon prepares in ~90 s is ready in ~1.5 s.
    async with running_sandbox(SandboxConfig(time_scale=60)) as sandbox:
        yield sandbox, await connect_directly(stack, sandbox, APP_SOURCE)


@pytest.fixture(params=["fake", "spapi", "fnac"])
async def contract(
    request: pytest.FixtureRequest, stack: Any, amazon: tuple[str, str]
) -> AsyncIterator[Contract]:
    if request.param == "fnac":
        async with _fnac_contract(stack, amazon[0]) as fnac:
            yield fnac
        return
    if request.param == "fake":
        fake = _fake_source()

        async def fake_outage() -> None:
            fake.failures.append(SourceUnavailable("SP-API searchOrders answered 503"))

        yield Contract(fake, "t-shop", NOW, fake_outage)
        return
    async with _amazon_clients(stack, amazon[0]) as (spapi, admin):

        async def outage() -> None:
            faults = {"failNext": 2, "failStatus": 503, "operations": ["searchOrders"]}
            assert (await admin.put("/_sandbox/faults", json=faults)).status_code == 200

        yield Contract(SpApiOrderSource(spapi), amazon[1], datetime.now(UTC), outage)
        await admin.delete("/_sandbox/faults")


@contextlib.asynccontextmanager
async def _amazon_clients(
    stack: Any, sandbox: str
) -> AsyncIterator[tuple[SpApiClient, httpx.AsyncClient]]:
    """The SP-API client on the sandbox (two attempts: an outage shows at once), and the
    sandbox's admin; each scenario within searchOrders' burst (20), the buckets full."""
    vault = VaultClient(stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    tokens = TokenService(vault, LwaClient(f"{sandbox}/auth/o2/token"), app_source=APP_SOURCE)
    spapi = SpApiClient(tokens, endpoint=sandbox, initial_backoff=0.01, attempts=2)
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as admin:
        assert (await admin.post("/_sandbox/ratelimits/reset")).status_code in (200, 201, 204)
        try:
            yield spapi, admin
        finally:
            await spapi.aclose()


@contextlib.asynccontextmanager
async def _fnac_contract(stack: Any, sandbox: str) -> AsyncIterator[Contract]:
    """The connector seam's source on the sandbox's demo Fnac shop, its key in Vault; a
    second tenant holds a key Fnac refuses."""
    vault = VaultClient(stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    async with httpx.AsyncClient(base_url=sandbox, timeout=30) as admin:
        shops = (await admin.get("/_sandbox/fnac/shops")).json()
        shop = next(s for s in shops if s["marketplace"] == FNAC)
        key = {k: shop[k] for k in ("partner_id", "shop_id", "key")}
        tenant, refused = new_tenant(), new_tenant()
        await vault.write(connector_for(FNAC).credentials_path(tenant), key)
        await vault.write(
            connector_for(FNAC).credentials_path(refused), {**key, "key": "not-the-key"}
        )
        await admin.delete("/_sandbox/fnac/faults")

        async def outage() -> None:  # every attempt of the client's next call
            faults = {"failNext": 4, "failStatus": 503, "operations": ["orders_query"]}
            assert (await admin.put("/_sandbox/fnac/faults", json=faults)).status_code == 200

        source = ConnectorOrderSource(
            FNAC,
            vault,
            admin,
            # The outage's four failed tries a tenth of a second apart, not the default
            # waits' seconds: what the contract asserts is the outage, not its length.
            msgspec.structs.replace(
                shop_api_at(FNAC, f"{sandbox}/fnac/api.php/"), call_retry_wait_seconds=0.1
            ),
            window_days=15,
            clock=lambda: datetime.now(UTC),
        )
        try:
            yield Contract(
                source,
                tenant,
                datetime.now(UTC),
                outage,
                refused,
                sized_pages=False,
                unknown="0000UNKNOWN00",
            )
        finally:
            await admin.delete("/_sandbox/fnac/faults")
            await vault.aclose()


def _fake_source() -> FakeOrderSource:
    fake = FakeOrderSource()
    fake.add("t-shop", *(_order(n) for n in range(40)))
    return fake


def _order(n: int) -> OrderRow:
    at = NOW - timedelta(days=60 - n)
    return shipped_order(
        f"407-0000000-{n:07d}",
        placed=at,
        updated=at + timedelta(hours=1),
        items=[item(f"item-{n}", sku=f"SKU-{n}")],
    )


async def _all_pages(contract: Contract, window: OrderWindow) -> list[SourcePage]:
    pages = [await contract.source.orders_in_window(contract.tenant, window)]
    while pages[-1].next_token is not None:
        window = dataclasses.replace(window, page_token=pages[-1].next_token)
        pages.append(await contract.source.orders_in_window(contract.tenant, window))
    return pages


def _orders_of(pages: list[SourcePage]) -> list[OrderRow]:
    return [o for page in pages for o in page.orders]


async def test_a_window_read_page_by_page_gives_each_order_once_and_where_it_ends(
    contract: Contract,
) -> None:
    start = contract.now - timedelta(days=90)
    pages = await _all_pages(contract, OrderWindow(FR, created_after=start, page_size=PAGE))
    orders = _orders_of(pages)
    assert len(pages) > 1
    assert all(len(page.orders) <= PAGE for page in pages) or not contract.sized_pages
    assert len({o.external_order_id for o in orders}) == len(orders) > PAGE
    assert all(o.order_date >= start and o.items for o in orders)
    end = pages[-1].created_before  # the source's cursor, not our clock
    assert end is not None and max(o.order_date for o in orders) <= end
    updated = await _all_pages(contract, OrderWindow(FR, updated_after=start, page_size=50))
    assert updated[-1].updated_before is not None
    assert all(o.marketplace_updated_at >= start for page in updated for o in page.orders)


async def _orders_created_since(
    contract: Contract, start: datetime, end: datetime | None = None
) -> list[OrderRow]:
    window = OrderWindow(FR, created_after=start, created_before=end, page_size=PAGE)
    return _orders_of(await _all_pages(contract, window))


async def _ids_between(contract: Contract, start: datetime, end: datetime) -> list[str]:
    orders = await _orders_created_since(contract, start, end)
    assert all(start <= o.order_date < end for o in orders)
    return [o.external_order_id for o in orders]


async def test_an_order_created_at_a_window_s_end_is_read_in_the_next_window_only(
    contract: Contract,
) -> None:
    # The last 90 days' orders: one of them, in the middle, ends the first window.
    orders = await _orders_created_since(contract, contract.now - timedelta(days=90))
    boundary = orders[len(orders) // 2]  # its creation, as the source gives it
    at, week = boundary.order_date, timedelta(days=7)
    before = await _ids_between(contract, at - week, at)
    after = await _ids_between(contract, at, at + week)
    assert boundary.external_order_id not in before
    assert after.count(boundary.external_order_id) == 1
    assert not set(before) & set(after)


async def test_one_order_and_orders_by_id(contract: Contract) -> None:
    window = OrderWindow(FR, created_after=contract.now - timedelta(days=90), page_size=2)
    first = (await contract.source.orders_in_window(contract.tenant, window)).orders[0]
    found = await contract.source.order(contract.tenant, first.external_order_id)
    assert found.external_order_id == first.external_order_id and found.items
    assert found.order_status is first.order_status
    with pytest.raises(NotFound):
        await contract.source.order(contract.tenant, contract.unknown)
    fetched = await contract.source.orders_by_ids(
        contract.tenant, [first.external_order_id, contract.unknown]
    )
    assert [o.external_order_id for o in fetched.orders] == [first.external_order_id]
    assert list(fetched.refused) == [contract.unknown]


async def test_failures_are_the_port_s(contract: Contract) -> None:
    window = OrderWindow(FR, created_after=contract.now - timedelta(days=90), page_size=2)
    with pytest.raises(SourceRefused) as refused:  # a tenant without credentials
        await contract.source.orders_in_window("t-never-connected", window)
    assert not is_outage(refused.value)
    with pytest.raises(SourceRefused) as refused:  # credentials the source refuses
        await contract.source.orders_in_window(contract.refused_tenant, window)
    assert not is_outage(refused.value)
    with pytest.raises(QueryRefused):  # a page token the source never gave
        await contract.source.orders_in_window(
            contract.tenant, dataclasses.replace(window, page_token="not-a-token")
        )
    await contract.outage()
    with pytest.raises(SourceUnavailable) as down:
        await contract.source.orders_in_window(contract.tenant, window)
    assert is_outage(down.value)
    # Once the source is back, the same window reads again.
    assert (await contract.source.orders_in_window(contract.tenant, window)).orders


# --- order reports ---------------------------------------------------------------------


@dataclass
class ReportsContract:
    reports: OrderReports
    tenant: str
    now: datetime
    fail_next: Callable[[], Awaitable[None]]  # the next report requested ends FAILED


@pytest.fixture(params=["fake", "spapi"])
async def reports(
    request: pytest.FixtureRequest, stack: Any, amazon: tuple[str, str]
) -> AsyncIterator[ReportsContract]:
    if request.param == "fake":
        fake = FakeOrderReports(_fake_source())
        fake.polls_until_done = 2

        async def fake_fail() -> None:
            fake.outcome = ReportStage.FAILED

        yield ReportsContract(fake, "t-shop", NOW, fake_fail)
        return
    async with _amazon_clients(stack, amazon[0]) as (spapi, admin):

        async def fail() -> None:
            answer = await admin.put("/_sandbox/reports/failures", json={"fatalNext": 1})
            assert answer.status_code == 200, answer.text

        yield ReportsContract(SpApiOrderReports(spapi), amazon[1], datetime.now(UTC), fail)
        await admin.put("/_sandbox/reports/failures", json={})


async def _finished(contract: ReportsContract, report_id: str) -> ReportStatus:
    async def settled() -> ReportStatus | None:
        status = await contract.reports.status(contract.tenant, report_id)
        return status if status.stage is not ReportStage.PENDING else None

    return await eventually(settled, within=None)


async def test_a_report_lists_its_window_s_orders_once_each(reports: ReportsContract) -> None:
    start, end = reports.now - timedelta(days=60), reports.now - timedelta(days=30)
    report_id, _ = await reports.reports.request(reports.tenant, FR, start, end)
    status = await _finished(reports, report_id)
    assert status.stage is ReportStage.DONE and status.document_id
    document = await reports.reports.orders(reports.tenant, status.document_id, FR)
    orders = [o async for o in document.orders]
    rows = [o for o in orders if isinstance(o, OrderRow)]
    assert rows and len(rows) == len(orders) == len({o.external_order_id for o in rows})
    assert all(start <= o.order_date < end and o.customer_email is None for o in rows)
    assert all(o.marketplace_id == FR for o in rows)


async def _report_of(contract: ReportsContract, start: datetime, end: datetime) -> list[OrderRow]:
    report_id, _ = await contract.reports.request(contract.tenant, FR, start, end)
    status = await _finished(contract, report_id)
    assert status.stage is ReportStage.DONE and status.document_id
    document = await contract.reports.orders(contract.tenant, status.document_id, FR)
    return [o async for o in document.orders if isinstance(o, OrderRow)]


async def test_an_order_created_at_a_report_s_end_is_in_the_next_report_only(
    reports: ReportsContract,
) -> None:
    listed = await _report_of(reports, reports.now - timedelta(days=60), reports.now)
    boundary = listed[len(listed) // 2]  # its creation, as the report gives it, ends a window
    at, week = boundary.order_date, timedelta(days=7)
    before = await _report_of(reports, at - week, at)
    after = await _report_of(reports, at, at + week)
    assert all(o.order_date < at for o in before)
    assert all(o.order_date >= at for o in after)
    assert [o.external_order_id for o in after].count(boundary.external_order_id) == 1
    assert not {o.external_order_id for o in before} & {o.external_order_id for o in after}


async def test_a_report_the_source_gives_up_on_or_forgot(reports: ReportsContract) -> None:
    with pytest.raises(NotFound):
        await reports.reports.status(reports.tenant, "123456789")
    await reports.fail_next()
    start = reports.now - timedelta(days=30)
    report_id, _ = await reports.reports.request(reports.tenant, FR, start, reports.now)
    status = await _finished(reports, report_id)
    assert status.stage is ReportStage.FAILED and status.document_id is None


# --- buyer messaging ---------------------------------------------------------------------


@pytest.fixture(params=["fake", "spapi"])
async def messaging(
    request: pytest.FixtureRequest, stack: Any, amazon: tuple[str, str]
) -> AsyncIterator[tuple[BuyerMessaging, str, str, str]]:
    """The messaging adapter, its tenant, a shipped and a cancelled order of its seller."""
    if request.param == "fake":
        fake = FakeBuyerMessaging()
        fake.allowed = {"407-1-shipped": ["confirmDeliveryDetails", "warranty"]}
        yield fake, "t-shop", "407-1-shipped", "407-2-cancelled"
        return
    async with _amazon_clients(stack, amazon[0]) as (spapi, _):
        window = OrderWindow(FR, created_after=datetime.now(UTC) - timedelta(days=90))
        listed = (await SpApiOrderSource(spapi).orders_in_window(amazon[1], window)).orders
        shipped = next(
            o for o in listed if o.order_status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
        )
        cancelled = next(o for o in listed if o.order_status is OrderStatus.CANCELLED)
        client = MessagingClient(spapi)
        yield client, amazon[1], shipped.external_order_id, cancelled.external_order_id


async def test_a_message_goes_only_where_the_order_allows_it(
    messaging: tuple[BuyerMessaging, str, str, str],
) -> None:
    client, tenant, shipped, cancelled = messaging
    assert await client.actions_for_order(tenant, cancelled, FR) == []
    allowed = await client.actions_for_order(tenant, shipped, FR)
    assert "confirmDeliveryDetails" in allowed
    body = MessageBody(text="Your parcel arrives on Tuesday")
    await client.send(tenant, shipped, FR, MessagingAction.CONFIRM_DELIVERY_DETAILS, body)
    with pytest.raises(MessagingActionNotAllowed):
        await client.send(tenant, cancelled, FR, MessagingAction.UNEXPECTED_PROBLEM, body)
