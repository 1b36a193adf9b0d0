"""The conformance suite: one set of tests run against every registered shop-API connector
(``registry.connectors()`` with a ``shop_api``) and its double, driven by the double's
driver (``keybuzz_sandbox.conformance``). A connector is done when it passes.

Black-box: the seller connects through oauth's HTTP API; the poller polls on its own, and
where a case asserts what a poll does rather than when one comes, the suite asks for it now
as an operator would (``harness.poll_now``); what is asserted is what anyone could observe: answers, Vault's contents, the poller's tickets
and shop statuses over HTTP, its events on JetStream, and the double's thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from keybuzz_sandbox.conformance import (
    DoubleShop,
    Fault,
    ShopDriver,
    Unsupported,
    Written,
)
from keybuzz_shared.connectors.credential_form import CredentialFieldInvalid, read_credentials
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import (
    Connected,
    Stack,
    connect_body,
    connected,
    consented,
    events,
    failed_since,
    family,
    holds,
    new_tenant,
    oauth_call,
    poll_now,
    polled_since,
    shop_status,
    stored_ids,
    tickets,
)
from tests.stack_fixture import wait_for

# Waits for a poll (a shop's first reads its recent history; the next comes an interval and
# a poll later): bounds for a hang only (None: what is left of the test's time limit). A busy
# machine stretches both; what a case asserts is what the poll did, or the order of events.
FIRST_POLL: float | None = None
NEXT_POLL: float | None = None
# How long the double holds a stalled answer (conformance.fault_settings; a trickled one
# lasts longer): a shop queued behind it would wait at least that.
HELD_FOR = 60.0
HOSTILE: list[Fault] = ["ENTITY_EXPANSION", "HUGE", "TRUNCATED", "WRONG_CONTENT_TYPE"]


async def shops(conformance: Stack, driver: ShopDriver, count: int = 1) -> list[DoubleShop]:
    """The double's smallest shops of the marketplace (their first polls are short)."""
    listed = await driver.shops(conformance.admin)
    assert len(listed) >= count, f"the double has {len(listed)} shops, the case needs {count}"
    return listed[-count:]


def secret_of(connector: Connector) -> str:
    """The name of the connector's first secret credential field."""
    return next(f.name for f in connector.credential_fields if f.secret)


async def first_polled(conformance: Stack, shop: Connected) -> dict[str, Any]:
    return await polled_since(conformance, shop, None, FIRST_POLL, asked=True)  # type: ignore[no-any-return]


@dataclass
class Polled:
    """A shop of the double connected for a new tenant, and its status after a first poll."""

    shop: DoubleShop
    mine: Connected
    first: dict[str, Any]


@asynccontextmanager
async def polled_shop(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> AsyncIterator[Polled]:
    """``polled``, for a case that first checks what would skip it (then connecting nothing)."""
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        yield Polled(shop, mine, await first_polled(conformance, mine))


@pytest.fixture
async def polled(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> AsyncIterator[Polled]:
    async with polled_shop(conformance, connector, driver) as found:
        yield found


async def stored_after(
    conformance: Stack, shop: Connected, message_id: str, since: str | None, asked: bool = False
) -> None:
    """Once a poll after ``since`` found ``message_id`` and stored it (``asked``: a poll
    asked for now, else the poller's own)."""

    async def found() -> bool | None:
        return await holds(conformance, shop, message_id) or None

    status = await polled_since(conformance, shop, since, NEXT_POLL, asked)
    while asked and not await found():
        # A poll running when asked is not asked again (poll_now): the one waited for may
        # have begun before the message was written. The next is asked for too, not left to
        # the poller's own (Back Market's restart case, loaded, waited 104 s for one in vain).
        status = await polled_since(conformance, shop, status["lastSuccessAt"], NEXT_POLL, True)
    await wait_for(found, NEXT_POLL, f"message {message_id} stored")


# --- connecting -------------------------------------------------------------------------------


def skip_if_consented(connector: Connector) -> None:
    """Skips a case of typed credentials for a connector whose sellers consent instead."""
    if connector.redirect_flow is not None:
        pytest.skip(f"{connector.marketplace}'s sellers consent: they type no credentials")


def skip_unless_answered(driver: ShopDriver, fault: Fault) -> None:
    """Skips a case, before it connects a shop, where the double cannot answer ``fault``."""
    try:
        driver.fault_settings(fault, [])
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.mark.every_marketplace
async def test_connects_by_consent_and_not_when_declined(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """A consent declined connects nothing; given, the seller's refresh token is in Vault
    and the shop polled; the same seller's consent for another tenant is refused."""
    if connector.redirect_flow is None:
        pytest.skip(f"{connector.marketplace}'s sellers type their credentials")
    [shop] = await shops(conformance, driver)
    tenant = new_tenant()
    declined = await consented(conformance, connector, shop, tenant, decline=True)
    assert declined.json()["status"] == "error", declined.text
    assert await conformance.vault.read(connector.credentials_path(tenant)) is None
    status = await oauth_call(conformance, "GET", connector.marketplace, "status", tenant)
    assert status.json()["status"] != "CONNECTED"
    async with connected(conformance, connector, shop) as mine:
        secret = secret_of(connector)
        kept = await conformance.vault.read(connector.credentials_path(mine.tenant))
        assert kept is not None and kept[secret] == shop.credentials[secret]
        status = await oauth_call(conformance, "GET", connector.marketplace, "status", mine.tenant)
        assert status.json()["status"] == "CONNECTED"
        polled = await first_polled(conformance, mine)
        assert polled["connection"] == "CONNECTED" and polled["consecutiveFailures"] == 0
        intruder = new_tenant()
        taken = await consented(conformance, connector, shop, intruder)
        assert taken.json()["reason"] == "seller_already_connected", taken.text
        assert mine.tenant not in taken.text and shop.credentials[secret] not in taken.text
        assert await conformance.vault.read(connector.credentials_path(intruder)) is None


@pytest.mark.every_marketplace
async def test_connects_with_its_credentials_and_refuses_wrong_ones(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    skip_if_consented(connector)
    [shop] = await shops(conformance, driver)
    secret = next(f for f in connector.credential_fields if f.secret)
    wrong = dict(shop.credentials) | {secret.name: shop.credentials[secret.name][::-1] + "x"}
    tenant = new_tenant()
    refused = await oauth_call(
        conformance,
        "POST",
        connector.marketplace,
        "connection",
        tenant,
        json=connect_body(connector, wrong),
    )
    assert refused.status_code == 422, refused.text
    assert wrong[secret.name] not in refused.text
    assert await conformance.vault.read(connector.credentials_path(tenant)) is None
    status = await oauth_call(conformance, "GET", connector.marketplace, "status", tenant)
    assert status.json()["status"] == "NOT_CONNECTED"

    async with connected(conformance, connector, shop) as mine:
        kept = await conformance.vault.read(connector.credentials_path(mine.tenant))
        assert kept is not None and kept[secret.name] == shop.credentials[secret.name]
        status = await oauth_call(conformance, "GET", connector.marketplace, "status", mine.tenant)
        assert status.json()["status"] == "CONNECTED"
        polled = await first_polled(conformance, mine)
        assert polled["connection"] == "CONNECTED" and polled["consecutiveFailures"] == 0


@pytest.mark.every_marketplace
async def test_a_shop_is_refused_to_a_second_tenant_under_every_marketplace_of_its_api(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    skip_if_consented(connector)
    [shop] = await shops(conformance, driver)
    siblings = family(driver)
    assert connector.marketplace in siblings
    async with connected(conformance, connector, shop) as owner:
        for marketplace in siblings:
            intruder = new_tenant()
            # The sibling's own form, filled with the shop's credentials.
            body = connect_body(connector_for(marketplace), dict(shop.credentials))
            taken = await oauth_call(
                conformance, "POST", marketplace, "connection", intruder, json=body
            )
            assert taken.status_code == 409, (marketplace, taken.text)
            assert owner.tenant not in taken.text
            assert shop.credentials[secret_of(connector)] not in taken.text


def spellings(shop_id: str) -> list[str]:
    """Other spellings of one shop id: padded with zeros, in whitespace, in full-width
    characters, in another case."""
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in shop_id)
    tried = ["0" + shop_id, "00" + shop_id, f" {shop_id} ", f"{shop_id}\t", wide]
    mixed = "".join(c.lower() if i % 2 else c.upper() for i, c in enumerate(shop_id))
    tried += [shop_id.lower(), shop_id.upper(), shop_id.swapcase(), mixed]
    return list(dict.fromkeys(t for t in tried if t != shop_id))


def form_takes(connector: Connector, credentials: dict[str, str]) -> bool:
    """Whether the connector's form accepts ``credentials`` (else oauth answers 400)."""
    try:
        read_credentials(connector.credential_fields, connect_body(connector, credentials))
    except CredentialFieldInvalid:
        return False
    return True


@pytest.mark.every_marketplace
async def test_a_shop_is_one_shop_whatever_spelling_of_its_id_is_typed(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """The stored id is the canonical one, and another tenant typing the shop's id in
    another spelling (padding, whitespace, width, case) is refused: 409 when the form takes
    that spelling, 400 when it does not; never connected."""
    skip_if_consented(connector)
    [shop] = await shops(conformance, driver)
    account = next(f.name for f in connector.credential_fields if f.account)
    canonical = read_credentials(
        connector.credential_fields, connect_body(connector, dict(shop.credentials))
    )[account]
    variants = spellings(canonical)
    # The owner types a spelling the form takes but is not the canonical one.
    typed = next(v for v in variants if form_takes(connector, {**shop.credentials, account: v}))
    owner = new_tenant()
    body = connect_body(connector, {**shop.credentials, account: typed})
    answer = await oauth_call(
        conformance, "POST", connector.marketplace, "connection", owner, json=body
    )
    assert answer.status_code == 200, (typed, answer.text)
    try:
        assert answer.json()["shopId"] == canonical, typed
        kept = await conformance.vault.read(connector.credentials_path(owner))
        assert kept is not None and kept[account] == canonical

        async def polled_as() -> str | None:
            found = await shop_status(conformance, Connected(owner, connector.marketplace, shop))
            return None if found is None else str(found["sellerId"])

        assert await wait_for(polled_as, None, "the poller's shop") == canonical
        for spelled in [canonical, *variants]:
            credentials = {**shop.credentials, account: spelled}
            intruder = new_tenant()
            body = connect_body(connector, credentials)
            refused = await oauth_call(
                conformance, "POST", connector.marketplace, "connection", intruder, json=body
            )
            expected = 409 if form_takes(connector, credentials) else 400
            assert refused.status_code == expected, (repr(spelled), refused.text)
            assert owner not in refused.text
            assert await conformance.vault.read(connector.credentials_path(intruder)) is None
    finally:
        await oauth_call(conformance, "DELETE", connector.marketplace, "connection", owner)


# --- reading ----------------------------------------------------------------------------------


async def test_more_messages_than_a_page_are_each_stored_once_across_a_restart(
    conformance: Stack, connector: Connector, driver: ShopDriver, polled: Polled
) -> None:
    shop, mine, first = polled.shop, polled.mine, polled.first
    written = [
        await driver.buyer_writes(conformance.admin, shop, f"message {n} of a long listing")
        for n in range(connector.limits.page_size + 1)
    ]
    await stored_after(conformance, mine, written[-1].message_id, first["lastSuccessAt"], True)
    await conformance.restart_poller()
    restarted = await shop_status(conformance, mine)
    assert restarted is not None
    later = await driver.buyer_writes(conformance.admin, shop, "after the restart")
    await stored_after(conformance, mine, later.message_id, restarted["lastSuccessAt"], True)
    ids = await stored_ids(conformance, mine)
    ours = {w.message_id for w in written} | {later.message_id}
    assert ours <= set(ids)
    assert len(ids) == len(set(ids)), "a message stored twice"
    received = await events(conformance, "message.received", mine.tenant)
    assert len(received) == len({e["externalMessageId"] for e in received})


async def test_an_expired_token_is_renewed_once_within_the_poll(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    [shop] = await shops(conformance, driver)
    try:
        await driver.token_requests(conformance.admin, shop)
    except Unsupported as exc:  # a marketplace whose shops hold no token that expires
        pytest.skip(str(exc))
    async with polled_shop(conformance, connector, driver) as polled:
        mine, first = polled.mine, polled.first
        # Counted before the expiry: the poll that meets it may start at once.
        asked = await driver.token_requests(conformance.admin, shop)
        await driver.expire_tokens(conformance.admin, shop)
        written = await driver.buyer_writes(conformance.admin, shop, "after the token expired")
        await stored_after(conformance, mine, written.message_id, first["lastSuccessAt"], True)
        renewals = await driver.token_requests(conformance.admin, shop) - asked
        assert renewals == 1, f"{renewals} token requests after the expiry: a token per call?"
        status = await shop_status(conformance, mine)
        assert status is not None and status["connection"] == "CONNECTED"
        assert shop.credentials[secret_of(connector)] not in str(status["lastError"])


async def held_and_retried(
    conformance: Stack,
    driver: ShopDriver,
    mine: Connected,
    failed: dict[str, Any],
    written: Written,
) -> None:
    """A shop whose poll ``failed`` (its message ``written`` meanwhile) is still connected
    and stored nothing; once the double answers again, the poller's own retry stores it."""
    assert failed["connection"] == "CONNECTED" and failed["consecutiveFailures"] >= 1, failed
    assert written.message_id not in await stored_ids(conformance, mine), failed
    await driver.clear_faults(conformance.admin)
    await stored_after(conformance, mine, written.message_id, failed["lastSuccessAt"])
    recovered = await polled_since(conformance, mine, failed["lastErrorAt"], NEXT_POLL)
    assert recovered["consecutiveFailures"] == 0


async def test_an_unavailable_api_is_held_and_retried(
    conformance: Stack, connector: Connector, driver: ShopDriver, polled: Polled
) -> None:
    """A 5xx; an answer that never comes is the slow case's STALL, held and retried there."""
    shop, mine, first = polled.shop, polled.mine, polled.first
    await driver.set_fault(conformance.admin, "UNAVAILABLE", [shop])
    written = await driver.buyer_writes(conformance.admin, shop, "during the outage")
    failed = await failed_since(conformance, mine, first["lastErrorAt"], NEXT_POLL, asked=True)
    await held_and_retried(conformance, driver, mine, failed, written)


@pytest.mark.parametrize("fault", ["STALL", "TRICKLE"])
async def test_a_slow_answer_is_cut_at_the_deadline_without_delaying_another_shop(
    conformance: Stack, connector: Connector, driver: ShopDriver, fault: Fault
) -> None:
    """Cut at its deadline, the slow shop is held and retried as an unavailable one is."""
    slow_shop, healthy_shop = await shops(conformance, driver, 2)
    async with (
        connected(conformance, connector, slow_shop) as slow,
        connected(conformance, connector, healthy_shop) as healthy,
    ):
        # Each shop's first poll asked at once: neither waits for the other's.
        slowed, ready = await asyncio.gather(
            first_polled(conformance, slow), first_polled(conformance, healthy)
        )
        await driver.set_fault(conformance.admin, fault, [slow_shop])
        loop = asyncio.get_running_loop()
        armed = loop.time()
        written = await driver.buyer_writes(conformance.admin, healthy_shop, "while one stalls")
        unread = await driver.buyer_writes(conformance.admin, slow_shop, "while it stalls")
        # The slow shop's poll asked now (what it does is asserted: cut at its deadline),
        # the healthy one's left to the poller (when it comes is).
        cut = await failed_since(conformance, slow, slowed["lastErrorAt"], NEXT_POLL, asked=True)
        assert "deadline" in cut["lastError"], cut["lastError"]
        # Cut, and the other shop's message stored, while the double still held the slow
        # answer: neither waited for it, however slow a busy machine made the rest.
        assert loop.time() - armed < HELD_FOR
        await stored_after(conformance, healthy, written.message_id, ready["lastSuccessAt"])
        assert loop.time() - armed < HELD_FOR
        status = await shop_status(conformance, healthy)
        assert status is not None and status["consecutiveFailures"] == 0
        await held_and_retried(conformance, driver, slow, cut, unread)


@pytest.mark.parametrize("fault", HOSTILE)
async def test_a_hostile_body_is_refused_without_harm(
    conformance: Stack, connector: Connector, driver: ShopDriver, fault: Fault
) -> None:
    skip_unless_answered(driver, fault)
    async with polled_shop(conformance, connector, driver) as polled:
        await refused_without_harm(conformance, connector, driver, polled, fault)


async def refused_without_harm(
    conformance: Stack, connector: Connector, driver: ShopDriver, polled: Polled, fault: Fault
) -> dict[str, Any]:
    """While the double answers ``fault``, the shop's polls fail, connected, storing and
    announcing nothing; once it stops, the message written meanwhile is stored once. The
    shop's status while it failed is returned (the case has skipped a fault the double
    cannot answer, ``skip_unless_answered``)."""
    shop, mine, first = polled.shop, polled.mine, polled.first
    await driver.set_fault(conformance.admin, fault)
    before = len(await events(conformance, "message.received", mine.tenant))
    written = await driver.buyer_writes(conformance.admin, shop, f"refused when {fault}")
    failed = await failed_since(conformance, mine, first["lastErrorAt"], NEXT_POLL, asked=True)
    assert failed["connection"] == "CONNECTED", failed
    assert shop.credentials[secret_of(connector)] not in failed["lastError"]
    assert written.message_id not in await stored_ids(conformance, mine)
    assert len(await events(conformance, "message.received", mine.tenant)) == before
    await driver.clear_faults(conformance.admin)
    await stored_after(conformance, mine, written.message_id, first["lastSuccessAt"], True)
    ids = await stored_ids(conformance, mine)
    assert ids.count(written.message_id) == 1
    ticket = await ticket_of(conformance, mine, written)
    [message] = [m for m in ticket["messages"] if m["externalId"] == written.message_id]
    assert message["body"] == f"refused when {fault}"
    return failed  # type: ignore[no-any-return]


async def test_a_revoked_credential_requires_reauthorization(
    conformance: Stack, connector: Connector, driver: ShopDriver, polled: Polled
) -> None:
    await driver.revoke(conformance.admin, polled.shop)
    await poll_now(conformance, polled.mine)

    async def reauth() -> dict[str, Any] | None:
        status = await shop_status(conformance, polled.mine)
        return status if status and status["connection"] == "REAUTH_REQUIRED" else None

    await wait_for(reauth, NEXT_POLL, "REAUTH_REQUIRED")
    said = await events(conformance, "connection.reauth_required", polled.mine.tenant)
    assert [e["marketplace"] for e in said] == [connector.marketplace]


@pytest.mark.every_marketplace
async def test_a_key_replaced_by_a_reconnect_is_used_at_the_next_poll(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """The poller keeps a shop's key a while rather than read Vault at every poll: the
    seller's new key (the old one revoked) is the one the next poll uses, never the kept."""
    skip_if_consented(connector)
    async with polled_shop(conformance, connector, driver) as polled:
        shop, mine = polled.shop, polled.mine
        await driver.revoke(conformance.admin, shop)
        listed = await driver.shops(conformance.admin)
        [renewed] = [s for s in listed if s.account == shop.account]
        assert renewed.credentials != shop.credentials, "the double kept the revoked key"
        body = connect_body(connector, dict(renewed.credentials))
        answer = await oauth_call(
            conformance, "POST", connector.marketplace, "connection", mine.tenant, json=body
        )
        assert answer.status_code == 200, answer.text
        written = await driver.buyer_writes(conformance.admin, renewed, "after a new key")
        since = polled.first["lastSuccessAt"]
        await stored_after(conformance, mine, written.message_id, since, True)
        status = await shop_status(conformance, mine)
        assert status is not None and status["connection"] == "CONNECTED", status


async def ticket_of(conformance: Stack, shop: Connected, written: Written) -> dict[str, Any]:
    """The ticket of the message's order holding it: an order may have several threads (a
    marketplace's discussions), each its own ticket."""
    [ticket] = [
        t
        for t in await tickets(conformance, shop)
        if (written.order_id is None or t["orderId"] == written.order_id)
        and any(m["externalId"] == written.message_id for m in t["messages"])
    ]
    return ticket
