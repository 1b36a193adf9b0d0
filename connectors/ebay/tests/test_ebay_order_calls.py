"""eBay's Fulfillment API limits the application's calls, every seller's together: a running
orders service (its sync loop on its own, PostgreSQL, NATS, OpenBao) spaces each eBay
seller's sync rounds so that all of them stay within the budget eBay's connector declares
(``EBAY_FULFILLMENT_CALLS_PER_DAY``, tiny here so that seconds show what a day would), and
eBay's double, enforcing that quota, answers none of them 429. Each round is charged what
it spent, counted as its calls were sent: a seller whose orders flood pays for its pages
with a later next round, the others sync on. Past the application's token grants a day, a
sync waits for later: never the consent refused, never a disconnection. Every figure is
read from what was recorded (the cursors' rows, the double's counts), never from a window
of wall-clock time: a busy machine stretches the rounds, not the assertions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_connector_ebay.connector import ORDERS_PAGE
from keybuzz_connector_ebay.settings import EBAY, SYNCS
from keybuzz_devstack.testing import Infra, RunningService, eventually, times_seen
from keybuzz_double_ebay import (
    APP_CALLS_PER_DAY,
    GRANTS_PER_DAY,
    EbayDoubleSettings,
    consent_fields,
)
from keybuzz_double_ebay import service_env as ebay_env
from keybuzz_orders.service import DEFINITION
from keybuzz_orders.sync import OrderSync
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.settings import DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

SELLERS = 4
DAY = 86_400
# Four sellers synced every 2 s spend the syncs' share of this budget: 4 × 1.1 × 86,400 /
# (237,600 × 0.8) = 2 s; orders' own interval here is 1 s.
INTERVAL = 2.0
CALLS_PER_SYNC, SYNC_SHARE = SYNCS.calls_per_poll, SYNCS.poll_share
BUDGET = round(SELLERS * CALLS_PER_SYNC * DAY / (SYNC_SHARE * INTERVAL))
ROUNDS = 2  # rounds of each seller watched
# Orders one seller sells at once: two pages of getOrders in one round, past the round's
# declared 1.1 calls, are what its charge and its put-off next round show.
FLOOD = ORDERS_PAGE + 1


async def calls(sandbox: Any, number: str = "1001") -> dict[str, int]:
    answer = await sandbox.get(f"/_sandbox/ebay/shops/{number}/calls")  # the app's beside
    return dict(answer.json())


async def active_syncs(orders: RunningService) -> int:
    return int(
        await orders.runtime.pool.fetchval(
            "SELECT count(*) FROM order_sync_cursors WHERE marketplace = $1 AND status = 'ACTIVE'",
            EBAY,
        )
    )


async def cursor(orders: RunningService, tenant: str) -> Any:
    return await orders.runtime.pool.fetchrow(
        "SELECT runs, last_run_at, last_round_calls, orders_seen, now() AS at"
        " FROM order_sync_cursors WHERE tenant_id = $1 AND marketplace = $2",
        tenant,
        EBAY,
    )


@pytest.fixture(scope="module")
async def synced(
    stack: Infra, module_nats: Any, start_module_service: Any
) -> AsyncIterator[tuple[Any, RunningService, list[dict[str, Any]], list[str]]]:
    """The double's sellers connected to a running orders service whose Fulfillment budget
    gives a round every ``INTERVAL`` s, each seller backfilled and syncing. The module's
    tests share them (their start, four backfills, is much of a test's time): each reads
    what it asserts from where the sellers stand as it starts, and leaves the double's
    limits as it found them."""
    config = SandboxConfig(doubles=(EbayDoubleSettings(extra_shops=SELLERS),))
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    async with (
        running_sandbox(config) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as sandbox,
    ):
        try:
            yield await _synced(sandbox, start_module_service, vault, module_nats)
        finally:
            await vault.aclose()


async def _synced(
    sandbox: httpx.AsyncClient, start_service: Any, vault: VaultClient, nats: Any
) -> tuple[Any, RunningService, list[dict[str, Any]], list[str]]:
    # A NATS of its own: the worker's holds other tests' eBay connections, whose backfills
    # and syncs would share the quota.
    orders = await start_service(
        DEFINITION,
        NATS_URL=nats.spec.url,
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

    await eventually(backfilled, within=None)  # each seller's 90 days read, its sync started
    # The service counts the sellers sharing the budget every few seconds: an operator's
    # read counts them now, so that the next rounds are paced for all of them.
    reply = await (await orders.operator()).request("keybuzz.orders.budgets", b"{}", timeout=10)
    assert [b["shops"] for b in msgspec.json.decode(reply.data)] == [SELLERS]
    return sandbox, orders, listed, tenants


async def claims_seen(
    orders: RunningService, tenant: str, after: datetime, count: int
) -> list[datetime]:
    """When the seller's next ``count`` rounds after ``after`` began (each round's claim
    stamps its cursor's ``last_run_at``)."""

    async def claimed() -> datetime:
        at: datetime = (await cursor(orders, tenant))["last_run_at"]
        return at

    return await times_seen(claimed, after, count)


@pytest.mark.timeout(300)
async def test_sellers_syncs_share_the_fulfillment_quota_and_wait_out_refused_grants(
    synced: tuple[Any, RunningService, list[dict[str, Any]], list[str]],
) -> None:
    sandbox, orders, _, tenants = synced
    nats = await orders.operator()
    reply = await nats.request("keybuzz.orders.budgets", b"{}", timeout=10)
    [told] = msgspec.json.decode(reply.data)
    assert (told["marketplace"], told["shops"], told["callsPerDay"]) == (EBAY, SELLERS, BUDGET)
    assert told["intervalSeconds"] == pytest.approx(INTERVAL, abs=0.1)
    assert told["declaredIntervalSeconds"] == 1.0
    gauge = 'keybuzz_orders_app_budget_interval_seconds{marketplace="EBAY"}'
    assert await orders.metric(gauge) == pytest.approx(INTERVAL, abs=0.1)

    # Each seller's rounds, as its cursor recorded them, fall the budget's interval apart
    # (orders' own 1 s would be twice as often); their calls, counted at the double
    # between the first and the last round watched, are what that many rounds spend, and
    # eBay's double answered none of them 429.
    before = await calls(sandbox)
    started = {t: await cursor(orders, t) for t in tenants}

    async def rounds_of(tenant: str) -> list[datetime]:
        begun = started[tenant]["last_run_at"]
        return [begun, *await claims_seen(orders, tenant, begun, ROUNDS)]

    # Side by side, as they sync: one after the other, a seller's rounds were looked for
    # once the others' were seen, some of them missed and the watch a turn of all longer.
    watched = dict(zip(tenants, await asyncio.gather(*map(rounds_of, tenants)), strict=True))
    after = await calls(sandbox)
    for tenant, claims in watched.items():
        gaps = [(b - a).total_seconds() for a, b in zip(claims, claims[1:], strict=False)]
        assert min(gaps) >= INTERVAL * 0.95, (tenant, gaps)
    assert after["fulfillmentRefused"] == before["fulfillmentRefused"]  # 0 × 429
    spent = after["fulfillment"] - before["fulfillment"]
    ended = await _last(orders, tenants)
    rounds = sum(ended[t]["runs"] - started[t]["runs"] for t in tenants)
    assert SELLERS * (ROUNDS - 1) <= spent <= (rounds + SELLERS) * CALLS_PER_SYNC, (spent, rounds)

    # The quota spent all the same (a quota lower than declared), then the application's
    # token grants of the day spent for a seller whose token expired: each round waits.
    sync = orders.runtime.component(OrderSync)

    async def kept_for_the_next_round(tenant: str) -> None:
        # Read while the limit still holds: a scheduled round after it is lifted succeeds.
        status, error = await orders.runtime.pool.fetchrow(
            "SELECT status, last_error FROM order_sync_cursors WHERE tenant_id = $1", tenant
        )
        assert status == "ACTIVE" and "unavailable" in error, (status, error)

    spent_now = (await calls(sandbox))["fulfillment"]
    await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": spent_now})
    try:
        assert (await sync.sync_now(tenants[1])).errors == 1
        await kept_for_the_next_round(tenants[1])
    finally:
        await sandbox.put("/_sandbox/ebay/limits", json={"fulfillment": APP_CALLS_PER_DAY})
    grants = (await sandbox.get("/_sandbox/ebay/grants")).json()["refreshGrants"]
    await sandbox.put("/_sandbox/ebay/limits", json={"grants": grants})
    try:
        await sandbox.post("/_sandbox/ebay/shops/1001/expire-tokens")
        assert (await sync.sync_now(tenants[0])).errors == 1
        await kept_for_the_next_round(tenants[0])
    finally:
        await sandbox.put("/_sandbox/ebay/limits", json={"grants": GRANTS_PER_DAY})
    reauth = await orders.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE subject LIKE 'connection.%'"
    )
    assert reauth == 0  # no reauth_required: the consents stand
    for tenant in tenants[:2]:  # the quota and the grants back, they sync
        assert (await sync.sync_now(tenant)).errors == 0


async def _last(orders: RunningService, tenants: list[str]) -> dict[str, Any]:
    return {t: await cursor(orders, t) for t in tenants}


@pytest.mark.timeout(300)
async def test_a_flood_of_orders_is_charged_what_its_round_spent_and_puts_its_next_round_off(
    synced: tuple[Any, RunningService, list[dict[str, Any]], list[str]],
) -> None:
    sandbox, orders, listed, tenants = synced
    flooded, number = tenants[0], listed[0]["number"]
    seen_before = (await cursor(orders, flooded))["orders_seen"]
    before = (await calls(sandbox, number))["calls"]
    others = {t: (await cursor(orders, t))["runs"] for t in tenants[1:]}
    sold = await sandbox.post(f"/_sandbox/ebay/shops/{number}/orders", json={"count": FLOOD})
    assert sold.status_code == 201, sold.text

    async def flood_read() -> Any:  # the round that read the flood, as its cursor kept it
        row = await cursor(orders, flooded)
        counted = row["last_round_calls"] > 1  # charged once the round ended
        return row if row["orders_seen"] >= seen_before + FLOOD and counted else None

    flood = await eventually(flood_read, within=None)
    spent = (await calls(sandbox, number))["calls"] - before
    # Charged what it spent, counted as sent: its pages, past the round's declared 1.1, and
    # no more than the double counted for the seller since (quiet rounds before it).
    assert flood["last_round_calls"] >= 2, flood
    assert flood["last_round_calls"] <= spent, (flood["last_round_calls"], spent)
    # Its next round is put off in proportion: the flooded seller's calls a day at that
    # pace are one seller's share of the budget, no more.
    [following] = await claims_seen(orders, flooded, flood["last_run_at"], 1)
    put_off = (following - flood["last_run_at"]).total_seconds()
    charged = flood["last_round_calls"]
    assert put_off >= INTERVAL * charged / CALLS_PER_SYNC * 0.95, (put_off, charged)
    assert charged * DAY / put_off <= CALLS_PER_SYNC * DAY / INTERVAL * 1.06
    # The other sellers synced meanwhile: the flood cost them nothing.
    for tenant, runs in others.items():
        assert (await cursor(orders, tenant))["runs"] > runs, tenant
