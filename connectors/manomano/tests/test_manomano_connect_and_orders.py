"""Connecting ManoMano through oauth's generic endpoints, its partner API key checked with
the double's partner API and kept in Vault only, one seller contract one tenant; then the
orders service's 90-day backfill over the connector seam, kept fresh, the order a mail
names fetched, statuses mapped. Real PostgreSQL, NATS, OpenBao; the double over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.shop_api_testing import connection_row, publish
from keybuzz_devstack.shop_api_testing import marketplaces_api as call
from keybuzz_devstack.shop_orders_testing import (
    connect_shop,
    finished_backfill,
    orders_api,
    start_orders_alone,
)
from keybuzz_devstack.testing import Infra, RunningService, eventually
from keybuzz_double_manomano import service_env
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync
from keybuzz_shared.events import MessageReceived
from keybuzz_shared.vault import VaultClient

pytestmark = pytest.mark.timeout(120)
StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture(scope="module")
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/manomano", timeout=30) as http:
        yield http
        await http.put("/faults", json={})


@pytest.fixture(scope="module")
async def sellers(admin: httpx.AsyncClient) -> dict[int, dict[str, Any]]:
    return {s["contract"]: s for s in (await admin.get("/sellers")).json()}


@pytest.fixture(scope="module")
async def oauth(start_module_service: StartService, sandbox_url: str) -> RunningService:
    return await start_module_service(OAUTH, **service_env(sandbox_url))


def form(seller: dict[str, Any], **changed: str) -> dict[str, str]:
    return {"apiKey": seller["apiKey"], "sellerContractId": str(seller["contract"])} | changed


def new_tenant() -> str:
    return f"mm-{uuid.uuid4().hex[:10]}"


async def test_a_seller_connects_with_its_key_kept_in_vault_only(
    oauth: RunningService, vault: VaultClient, sellers: dict[int, dict[str, Any]]
) -> None:
    seller, tenant = sellers[1001], new_tenant()
    catalogue = (await call(oauth, "GET", "", tenant)).json()
    entry = next(m for m in catalogue["marketplaces"] if m["marketplace"] == "manomano")
    assert [f["name"] for f in entry["fields"]] == ["apiKey", "sellerContractId"]
    answer = await call(oauth, "POST", "manomano/connection", tenant, json=form(seller))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["shopId"]) == ("CONNECTED", "1001")
    stored = await vault.read(f"secret/keybuzz/tenants/{tenant}/manomano_api") or {}
    assert (stored.get("api_key"), stored.get("seller_contract_id")) == (seller["apiKey"], "1001")
    row = await connection_row(oauth, tenant, "MANOMANO")
    assert seller["apiKey"] not in repr(dict(row))
    # The same seller contract is not a second tenant's.
    other = await call(oauth, "POST", "manomano/connection", new_tenant(), json=form(seller))
    assert other.status_code == 409, other.text


@pytest.mark.parametrize(
    "changed",
    [
        {"apiKey": "mmk_" + "0" * 40},  # no seller's key
        {"sellerContractId": "1002"},  # the key of another contract
    ],
)
async def test_a_key_the_partner_api_refuses_connects_nothing(
    oauth: RunningService,
    vault: VaultClient,
    sellers: dict[int, dict[str, Any]],
    changed: dict[str, str],
) -> None:
    tenant = new_tenant()
    answer = await call(
        oauth, "POST", "manomano/connection", tenant, json=form(sellers[1001], **changed)
    )
    assert answer.status_code == 422, answer.text
    assert "mmk_" not in answer.text
    assert await vault.read(f"secret/keybuzz/tenants/{tenant}/manomano_api") is None


async def test_an_outage_at_the_check_is_to_retry(
    oauth: RunningService, admin: httpx.AsyncClient, sellers: dict[int, dict[str, Any]]
) -> None:
    assert (await admin.put("/faults", json={"unavailableNext": 4})).is_success
    try:
        answer = await call(
            oauth, "POST", "manomano/connection", new_tenant(), json=form(sellers[1003])
        )
    finally:
        await admin.put("/faults", json={})
    assert answer.status_code == 503, answer.text


async def test_a_sellers_orders_are_backfilled_kept_fresh_and_fetched_when_a_mail_names_one(
    start_service: StartService,
    sandbox_url: str,
    private_nats: infra.RunningServer,
    stack: Infra,
    admin: httpx.AsyncClient,
    sellers: dict[int, dict[str, Any]],
) -> None:
    orders = await start_orders_alone(
        start_service, ORDERS, private_nats, **service_env(sandbox_url)
    )
    seller, tenant = sellers[1002], new_tenant()
    fields = {"api_key": seller["apiKey"], "seller_contract_id": "1002"}
    await connect_shop(orders, stack.vault_addr, "MANOMANO", tenant, fields, "1002")
    job = await finished_backfill(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, order_status::text AS status, marketplace_status"
        " FROM orders WHERE tenant_id = $1",
        tenant,
    )
    # 40 orders over 120 days (the double's sellers.py): the 90 days' 30 or so, once each.
    assert 28 <= len(rows) <= 31 and len(rows) == job["orders"], job
    mapped = {
        "WAITING_PAYMENT": "PENDING",
        "PENDING": "PENDING",
        "PREPARATION": "CONFIRMED",
        "SHIPPED": "SHIPPED",
        "REFUSED": "CANCELLED",
        "CANCELLED": "CANCELLED",
        "REFUNDING": "RETURNED",
        "REFUNDED": "RETURNED",
    }
    assert all(mapped[r["marketplace_status"]] == r["status"] for r in rows), rows
    held = {r["external_order_id"] for r in rows}
    assert "M100200000001" not in held  # 120 days old

    # Kept fresh: a new order and a changed status, read by the sync.
    new = (await admin.post("/orders", json={"contract": 1002})).json()["order_reference"]
    some = sorted(held)[-1]
    await admin.post(f"/orders/{some}/status", json={"status": "REFUNDED"})
    result = await orders.runtime.component(OrderSync).sync_now(tenant)
    assert result.errors == 0, result
    one = await orders_api(orders, tenant, f"/{some}", marketplace="MANOMANO")
    assert (one["orderStatus"], one["amazonStatus"]) == ("RETURNED", "REFUNDED"), one
    assert (await orders_api(orders, tenant, f"/{new}", marketplace="MANOMANO"))[
        "externalOrderId"
    ] == new

    # A mail naming the old order: fetched by its reference.
    await publish(
        orders,
        MessageReceived(
            tenant_id=tenant,
            marketplace="MANOMANO",
            external_message_id=str(uuid.uuid4()),
            ticket_id=str(uuid.uuid4()),
            ticket_message_id=str(uuid.uuid4()),
            order_id="M100200000001",
        ),
    )

    async def fetched() -> bool:
        return bool(
            await orders.runtime.pool.fetchval(
                "SELECT count(*) FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
                tenant,
                "M100200000001",
            )
        )

    await eventually(fetched)

    # The partner API answering garbage: the sync stops, said in its error (orders' rule for
    # an answer it cannot read), nothing held is lost.
    count = "SELECT count(*) FROM orders WHERE tenant_id = $1"
    held_now = await orders.runtime.pool.fetchval(count, tenant)
    for fault in ({"garbageNext": 6},):
        assert (await admin.put("/faults", json=fault)).is_success
        try:
            failed = await orders.runtime.component(OrderSync).sync_now(tenant)
        finally:
            await admin.put("/faults", json={})
        assert failed.errors == 1, (fault, failed)
        assert await orders.runtime.pool.fetchval(count, tenant) == held_now
