"""eBay's call limit is the application's, every seller's calls together: a running poller
(its scheduler polling on its own, PostgreSQL, NATS, OpenBao) spaces each seller's polls so
that all of them stay within the budget eBay's connector declares, counted at the eBay
double, and polls the sellers left more often once others disconnect. The budget is tiny
here (``EBAY_MESSAGE_CALLS_PER_DAY``) so that seconds show what a day would. Every figure is
read from what was recorded (the shops' rows, the double's counts, the time between them),
waiting on the polls it needs, never on a window of wall-clock time: a busy machine
stretches the polls, not the assertions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from keybuzz_connector_ebay.settings import POLLS
from keybuzz_devstack.shop_api_testing import publish
from keybuzz_devstack.testing import MailServer, RunningService, eventually, times_seen
from keybuzz_double_ebay import EbayDoubleSettings, consent_fields, service_env
from keybuzz_poller.service import DEFINITION
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture
from keybuzz_shared.events import ConnectionDisconnected
from keybuzz_shared.vault import VaultClient

served_doubles = serving("ebay")

EBAY = "EBAY"
SELLERS = 4
DAY = 86_400
# Four sellers polled every 2 s spend the polls' share of this budget: 4 × 2.2 × 86,400 /
# (422,400 × 0.9) = 2 s. One seller alone: 1 s, eBay's own interval here.
INTERVAL = 2.0
CALLS_PER_POLL, POLL_SHARE = POLLS.calls_per_poll, POLLS.poll_share
BUDGET = round(SELLERS * CALLS_PER_POLL * DAY / (POLL_SHARE * INTERVAL))
GAPS_WATCHED = 1  # gaps of each seller watched: four sellers' show the budget's interval
# The scheduler claims a poll up to a tick before it is due (``poll_timings``: a quarter of
# the interval, at most 1 s), and it starts once eBay's own pace allows: two polls' ends may
# be that much closer than the interval (the next is due an interval after the last ends).
CLAIM_AHEAD = min(1.0, INTERVAL / 4)


async def app_calls(sandbox: Any) -> int:
    answer = await sandbox.get("/_sandbox/ebay/shops/1/calls")  # the app's count beside
    return int(answer.json()["app"])


async def budgets(poller: RunningService) -> list[dict[str, Any]]:
    nats = await poller.operator()
    reply = await nats.request("keybuzz.poller.budgets", b"{}", timeout=10)
    return msgspec.json.decode(reply.data)  # type: ignore[no-any-return]


async def polls(poller: RunningService, tenant_id: str) -> tuple[datetime, datetime]:
    """When the shop was last polled, and when next."""
    row = await poller.runtime.pool.fetchrow(
        "SELECT last_poll_at, next_poll_at FROM poller_shops WHERE poll_key = $1",
        f"{EBAY}:{tenant_id}",
    )
    return row["last_poll_at"], row["next_poll_at"]


async def polls_seen(
    poller: RunningService, tenant_id: str, after: datetime, count: int
) -> list[datetime]:
    """When the shop's next ``count`` polls after ``after`` ended."""

    async def last() -> datetime:
        return (await polls(poller, tenant_id))[0]

    return await times_seen(last, after, count)


async def db_now(poller: RunningService) -> datetime:
    now: datetime = await poller.runtime.pool.fetchval("SELECT now()")
    return now


@pytest.mark.timeout(300)
async def test_sellers_share_the_applications_calls_and_the_interval_follows_them(
    serve: Any,  # noqa: F811
    start_service: Any,
    dovecot: MailServer,
    vault: VaultClient,
    private_nats: Any,
) -> None:
    # A NATS of its own: the worker's holds other tests' eBay connections, which a poller
    # subscribing there would count among the sellers sharing the budget.
    sandbox, poller, listed, tenants = await _sellers_polled(
        serve, start_service, dovecot, vault, private_nats, BUDGET, 1.0
    )
    [told] = await budgets(poller)
    assert (told["marketplace"], told["shops"], told["callsPerDay"]) == (EBAY, SELLERS, BUDGET)
    assert told["intervalSeconds"] == pytest.approx(INTERVAL, abs=0.1)
    assert told["declaredIntervalSeconds"] == 1.0
    # From here on every seller's polls fall on the budget's interval (eBay's own 1 s would
    # be twice as often), as its row recorded them; the application's calls the double
    # counted meanwhile stay within the polls' share for the time they took, a poll a
    # seller more (one may straddle the start).
    before, started = await app_calls(sandbox), await db_now(poller)

    async def gaps_of(tenant: str) -> list[float]:
        # Watched from a poll ended once four sellers were told: the one before may have
        # placed its next poll at the interval of fewer (a busy machine connects them
        # seconds apart).
        [first] = await polls_seen(poller, tenant, started, 1)
        seen = [first, *await polls_seen(poller, tenant, first, GAPS_WATCHED)]
        return [(b - a).total_seconds() for a, b in zip(seen, seen[1:], strict=False)]

    # The sellers watched side by side, as they are polled: one after the other, each
    # waited for its polls after the last one's, the watch took four sellers' turns.
    for tenant, gaps in zip(tenants, await asyncio.gather(*map(gaps_of, tenants)), strict=True):
        assert min(gaps) >= INTERVAL - CLAIM_AHEAD, (tenant, gaps)
    spent = await app_calls(sandbox) - before
    took = (await db_now(poller) - started).total_seconds()
    allowed = BUDGET * POLL_SHARE * took / DAY  # 2.2 calls a seller every 2 s
    # A seller's poll is 2 calls (no conversation).
    assert 2 * SELLERS <= spent <= allowed + 2 * SELLERS, (spent, took)
    for tenant in tenants:  # each next poll placed the budget's interval on, or later (a
        # poll on a busy machine may spend retries, counted, and be put off by them)
        last, following = await polls(poller, tenant)
        assert (following - last).total_seconds() >= INTERVAL - 0.01, tenant

    # Three sellers leave: the one left is polled every second once its next poll comes.
    for tenant, seller in zip(tenants[1:], listed[1:], strict=True):
        gone = ConnectionDisconnected(
            tenant_id=tenant,
            marketplace=EBAY,
            seller_id=seller["userId"],
            occurred_at=datetime.now(UTC),
        )
        await publish(poller, gone)
    [told] = await eventually(lambda: _told_shops(poller, 1), within=None)
    assert told["intervalSeconds"] == 1.0

    async def polled_at_the_shorter_interval() -> bool:
        last, following = await polls(poller, tenants[0])
        return (following - last).total_seconds() == pytest.approx(1.0, abs=0.3)

    await eventually(polled_at_the_shorter_interval, within=None)


async def _told_shops(poller: RunningService, shops: int) -> list[dict[str, Any]] | None:
    told = await budgets(poller)
    return told if told and told[0]["shops"] == shops else None


async def seller_calls(sandbox: Any, number: str) -> int:
    return int((await sandbox.get(f"/_sandbox/ebay/shops/{number}/calls")).json()["calls"])


async def _sellers_polled(
    serve: Any,  # noqa: F811
    start_service: Any,
    dovecot: MailServer,
    vault: VaultClient,
    nats: Any,
    budget: int,
    interval: float,
    sellers: int = SELLERS,
) -> tuple[Any, RunningService, list[dict[str, Any]], list[str]]:
    """The eBay double's ``sellers`` connected to a running poller with ``budget`` calls a
    day and eBay's own ``interval``, each polled once."""
    sandbox = await serve(SandboxConfig(doubles=(EbayDoubleSettings(extra_shops=sellers),)))
    poller = await start_service(
        DEFINITION,
        NATS_URL=nats.spec.url,
        REPLY_SENDER_ENABLED="false",
        EBAY_POLL_INTERVAL_SECONDS=str(int(interval)),
        EBAY_MESSAGE_CALLS_PER_DAY=str(budget),
        **service_env(str(sandbox.base_url)),
        **dovecot.settings,
    )
    listed = [
        s for s in (await sandbox.get("/_sandbox/ebay/shops")).json() if "Boutique" in s["name"]
    ]
    tenants = [
        await poller.shop_connected(vault, EBAY, consent_fields(s), s["userId"]) for s in listed
    ]

    async def first_polls_done() -> bool:
        return all([(await polls(poller, t))[0] is not None for t in tenants])

    await eventually(first_polls_done, within=None)
    return sandbox, poller, listed, tenants


FLOOD = 16  # conversations one seller receives at once: 15 times a quiet poll's calls
# eBay's own interval and the budget's alike here: a poll's deadline is the interval, and
# the flood's poll (some 34 calls) is read in one, on a busy machine too (cut at its
# deadline, it would be retried only once its calls allow, minutes later).
FLOOD_INTERVAL = 8.0
FLOOD_BUDGET = round(SELLERS * CALLS_PER_POLL * DAY / (POLL_SHARE * FLOOD_INTERVAL))


@pytest.mark.timeout(300)
async def test_a_flooded_seller_spends_its_own_share_and_the_day_stays_within_budget(
    serve: Any,  # noqa: F811
    start_service: Any,
    dovecot: MailServer,
    vault: VaultClient,
    private_nats: Any,
) -> None:
    sandbox, poller, listed, tenants = await _sellers_polled(
        serve, start_service, dovecot, vault, private_nats, FLOOD_BUDGET, FLOOD_INTERVAL
    )
    flooded, number = tenants[0], listed[0]["number"]
    before_flood = await seller_calls(sandbox, number)
    flooded_at = (await polls(poller, flooded))[0]
    for n in range(FLOOD):
        opened = {"body": f"Question {n}", "buyer": f"acheteur_flot_{n}"}
        await sandbox.post(f"/_sandbox/ebay/shops/{number}/threads", json=opened)

    async def flood_read() -> bool:  # its poll read every conversation
        count = await poller.runtime.pool.fetchval(
            "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1", flooded
        )
        polling = await poller.runtime.pool.fetchval(
            "SELECT lease_owner IS NOT NULL AND lease_expires_at > now() FROM poller_shops"
            " WHERE poll_key = $1",
            f"{EBAY}:{flooded}",
        )  # the poll that stored them ended: its calls all made, its next poll set
        return count >= FLOOD and not polling and (await polls(poller, flooded))[0] > flooded_at

    await eventually(flood_read, within=None)
    # What the flood's polls spent, counted at the double, pushes the seller's next poll back
    # in proportion: its calls from its last quiet poll to its next poll, a day at that
    # pace, are one seller's share, no more (however many polls the flood took).
    spent = await seller_calls(sandbox, number) - before_flood
    following = (await polls(poller, flooded))[1]
    pushed = (following - flooded_at).total_seconds()
    assert spent > 4 * CALLS_PER_POLL  # a flood: far past a quiet poll's calls
    assert spent * DAY / pushed <= CALLS_PER_POLL * DAY / FLOOD_INTERVAL * 1.1, (spent, pushed)
    # From then on, the application's calls counted at the double while every seller is
    # polled again stay within the budget's share for the time that took (a poll a seller
    # more: one may straddle the start); the other sellers are not starved by the flood.
    before, started = await app_calls(sandbox), await db_now(poller)
    # Each other seller's next poll from where they all stood then (not one after another:
    # that waited up to a turn of all of them).
    last_polls = {tenant: (await polls(poller, tenant))[0] for tenant in tenants[1:]}
    for tenant, last in last_polls.items():
        await polls_seen(poller, tenant, last, 1)
    counted = await app_calls(sandbox) - before
    took = (await db_now(poller) - started).total_seconds()
    allowed = FLOOD_BUDGET * POLL_SHARE * took / DAY  # 2.2 calls a seller every 8 s
    assert counted <= allowed + 2 * SELLERS, (counted, took)


@pytest.mark.timeout(300)
async def test_a_listing_saying_more_with_nothing_or_repeating_stops_within_a_few_calls(
    serve: Any,  # noqa: F811
    start_service: Any,
    dovecot: MailServer,
    vault: VaultClient,
    private_nats: Any,
) -> None:
    # Every getConversations page empty yet naming a next page (or the first page again,
    # naming a next page): followed, one poll would page on until its deadline. The two
    # faults one after the other on one poller, each on a seller of its own (one new
    # conversation on its page, its calls counted from the fault's start): what one proves
    # needs no poller of its own. The polls are asked for, as an operator would: at the
    # default interval a poll's deadline is 30 s (an interval as short as the polls it
    # waited for was also their deadline, which a busy machine's polls outlasted, and the
    # shop then backed off for minutes).
    faults = ("emptyPagesSayMore", "pagesRepeat")
    sandbox, poller, listed, tenants = await _sellers_polled(
        serve, start_service, dovecot, vault, private_nats, 1_500_000, 120.0, sellers=len(faults)
    )
    for fault, tenant, seller in zip(faults, tenants, listed, strict=True):
        spent = await _spent_on_a_listing_that(fault, sandbox, poller, tenant, seller)
        # Two polls: each a listing of members' and eBay's conversations stopped at its
        # second page (its conversation read, its mark), never thousands.
        assert spent <= 3 * 12, (fault, spent)


async def _spent_on_a_listing_that(
    fault: str, sandbox: Any, poller: RunningService, tenant: str, seller: dict[str, Any]
) -> int:
    """The seller's calls over two polls asked for once ``fault`` is armed, each answered
    when it ended cleanly; the fault cleared after."""
    number = seller["number"]
    await sandbox.post(f"/_sandbox/ebay/shops/{number}/threads", json={"body": "Bonjour"})
    await sandbox.put("/_sandbox/ebay/faults", json={fault: True})
    try:
        before = await seller_calls(sandbox, number)
        operator = await poller.operator()
        asked = msgspec.json.encode({"tenantId": tenant, "marketplace": EBAY})
        for _ in range(2):
            reply = await operator.request("keybuzz.poller.poll-shop", asked, timeout=60)
            assert not (reply.headers or {}).get("Nats-Service-Error"), reply.headers
        return await seller_calls(sandbox, number) - before
    finally:
        await sandbox.delete("/_sandbox/ebay/faults")
