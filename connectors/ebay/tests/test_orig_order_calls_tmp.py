"""eBay's Fulfillment API limits the application's calls, every seller's together: a running
orders service (its sync loop on its own, PostgreSQL, NATS, OpenBao) spaces each eBay
seller's sync rounds so that all of them stay within the budget eBay's connector declares
(``EBAY_FULFILLMENT_CALLS_PER_DAY``, tiny here so that seconds show what a day would), and
eBay's double, enforcing that quota, answers none of them 429. Past the application's
token grants a day, a sync waits for later: never the consent refused, never a
disconnection."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec
import pytest
from keybuzz_connector_ebay.settings import CALLS_PER_SYNC, EBAY, SYNC_SHARE
from keybuzz_devstack.testing import RunningService, eventually
from keybuzz_double_ebay.double import (
    APP_CALLS_PER_DAY,
    GRANTS_PER_DAY,
    EbayDoubleSettings,
    consent_fields,
)
from keybuzz_double_ebay.double import service_env as ebay_env
from keybuzz_orders.service import DEFINITION
from keybuzz_orders.sync import OrderSync
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import serve  # noqa: F401 - fixture
from keybuzz_shared.vault import VaultClient

SELLERS = 4
DAY = 86_400
# Four sellers synced every 4 s spend the syncs' share of this budget: 4 × 1.1 × 86,400 /
# (118,800 × 0.8) = 4 s; orders' own interval here is 1 s.
INTERVAL = 4.0
BUDGET = round(SELLERS * CALLS_PER_SYNC * DAY / (SYNC_SHARE * INTERVAL))
MEASURED = 2 * INTERVAL  # seconds of calls counted


async def calls(sandbox: Any) -> dict[str, int]:
    answer = await sandbox.get("/_sandbox/ebay/shops/1001/calls")  # the app's counts beside
    return dict(answer.json())


async def active_syncs(orders: RunningService) -> int:
    return int(
        await orders.runtime.pool.fetchval(
            "SELECT count(*) FROM order_sync_cursors WHERE marketplace = $1 AND status = 'ACTIVE'",
            EBAY,
        )
    )


@pytest.mark.timeout(120)
async def test_sellers_syncs_share_the_fulfillment_quota_and_wait_out_refused_grants(
    serve: Any,  # noqa: F811
    start_service: Any,
    vault: VaultClient,
    private_nats: Any,
) -> None:
    sandbox = await serve(SandboxConfig(doubles=(EbayDoubleSettings(extra_shops=SELLERS),)))
    # A NATS of its own: the worker's holds other tests' eBay connections, whose backfills
    # and syncs would share the quota.
    orders = await start_service(
        DEFINITION,
        NATS_URL=private_nats.spec.url,
        ORDERS_SYNC_INTERVAL_SECONDS="1",
        EBAY_CALL_DEADLINE_SECONDS="2",  # a 429 is asked again within 2 s, then waits
        EBAY_FULFILLMENT_CALLS_PER_DAY=str(BUDGET),
        **ebay_env(str(sandbox.base_url)),
    )
    listed = [
        s for s in (await sandbox.get("/_sandbox/ebay/shops")).json() if "Boutique" in s["name"]
    ]
    tenants = []
    for seller in listed:
        fields = consent_fields(seller)
        tenants.append(await orders.connect_shop(vault, EBAY, fields, seller["userId"]))

    async def backfilled() -> bool:
        return await active_syncs(orders) == SELLERS

    await eventually(backfilled, within=40)  # each seller's 90 days read, its sync started
    nats = await orders.operator()
    reply = await nats.request("keybuzz.orders.budgets", b"{}", timeout=10)
    [told] = msgspec.json.decode(reply.data)
    assert (told["marketplace"], told["shops"], told["callsPerDay"]) == (EBAY, SELLERS, BUDGET)
    assert told["intervalSeconds"] == pytest.approx(INTERVAL, abs=0.1)
    assert told["declaredIntervalSeconds"] == 1.0
    gauge = 'keybuzz_orders_app_budget_interval_seconds{marketplace="EBAY"}'
    assert await orders.metric(gauge) == pytest.approx(INTERVAL, abs=0.1)

    # eBay's double enforces the quota: what the budget allows in the seconds measured, and
    # a round a seller more (one may straddle their start).
    before = await calls(sandbox)
    allowed = BUDGET * MEASURED / DAY  # 11 calls: two rounds of 1.1 a seller
    limit = before["fulfillment"] + math.floor(allowed) + SELLERS
    await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": limit})
    await asyncio.sleep(MEASURED)
    after = await calls(sandbox)
    await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": APP_CALLS_PER_DAY})
    assert after["fulfillmentRefused"] == before["fulfillmentRefused"]  # 0 × 429
    spent = after["fulfillment"] - before["fulfillment"]
    assert SELLERS <= spent <= allowed + SELLERS, spent  # synced all the same, within it

    # The quota spent all the same (a quota lower than declared), then the application's
    # token grants of the day spent for a seller whose token expired: each round waits.
    sync = orders.runtime.component(OrderSync)
    spent_now = (await calls(sandbox))["fulfillment"]
    await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": spent_now})
    try:
        assert (await sync.sync_now(tenants[1])).errors == 1
    finally:
        await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": APP_CALLS_PER_DAY})
    grants = (await sandbox.get("/_sandbox/ebay/grants")).json()["refreshGrants"]
    await sandbox.put("/_sandbox/ebay/limits", json={"grants": grants})
    try:
        await sandbox.post("/_sandbox/ebay/shops/1001/expire-tokens")
        assert (await sync.sync_now(tenants[0])).errors == 1
    finally:
        await sandbox.put("/_sandbox/ebay/limits", json={"grants": GRANTS_PER_DAY})
    for tenant in tenants[:2]:
        status, error = await orders.runtime.pool.fetchrow(
            "SELECT status, last_error FROM order_sync_cursors WHERE tenant_id = $1", tenant
        )
        assert status == "ACTIVE" and "unavailable" in error  # kept, for the next round
    reauth = await orders.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE subject LIKE 'connection.%'"
    )
    assert reauth == 0  # no reauth_required: the consents stand
    for tenant in tenants[:2]:  # the quota and the grants back, they sync
        assert (await sync.sync_now(tenant)).errors == 0
