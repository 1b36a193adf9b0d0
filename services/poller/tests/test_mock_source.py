"""AMAZON_USE_MOCK=true: deterministic demo mails stored through the real ticket path, once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from keybuzz_connector_amazon.relay_mail import DEMO_ORDERS as ORDERS
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.settings import SettingsError, load_settings
from mailkit import new_tenant, poll_now, received_events, synced

StartService = Callable[..., Awaitable[RunningService]]
# The sandbox's seeded seller A12BCIS2R7HD4D (SANDBOX_SEED=keybuzz, docs/SANDBOX.md).
SANDBOX_ORDER_IDS = {
    "403-1027206-4659269",
    "407-6524291-3427835",
    "403-7186471-4158777",
    "407-0413490-9030763",
    "403-5818590-5885561",
}


async def test_mock_poll_stores_the_demo_tickets_once(start_service: StartService) -> None:
    # No Dovecot settings at all: with the mock on, nothing reads IMAP.
    poller = await start_service(DEFINITION, AMAZON_USE_MOCK="true", POLL_ENABLED="false")
    tenant, address = new_tenant()
    await synced(poller, tenant, address)

    first = await poll_now(poller, tenant)
    assert (first["fetched"], first["stored"], first["unparsed"]) == (len(ORDERS), len(ORDERS), 0)
    tickets = await poller.runtime.pool.fetch(
        "SELECT order_id, buyer_email, subject FROM poller_tickets WHERE tenant_id = $1", tenant
    )
    assert {t["order_id"] for t in tickets} == SANDBOX_ORDER_IDS
    assert all(t["buyer_email"].endswith("@marketplace.amazon.fr") for t in tickets)
    events = await received_events(poller, tenant)
    assert sorted(e["orderId"] for e in events) == sorted(SANDBOX_ORDER_IDS)

    second = await poll_now(poller, tenant)
    assert second["fetched"] == 0 and second["stored"] == 0
    count = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant
    )
    assert count == len(ORDERS)
    assert len(await received_events(poller, tenant)) == len(ORDERS)

    # Without its cursor the tenant's mock mail is read again: the same mails (same
    # Message-IDs), recognised as already stored, so still nothing new.
    await poller.runtime.pool.execute(
        "DELETE FROM poller_mail_cursors WHERE tenant_id = $1", tenant
    )
    again = await poll_now(poller, tenant)
    assert (again["fetched"], again["stored"], again["duplicates"]) == (len(ORDERS), 0, len(ORDERS))
    assert len(await received_events(poller, tenant)) == len(ORDERS)


@pytest.mark.parametrize("env", ["production", "staging"])
def test_mock_is_refused_in_production(env: str) -> None:
    with pytest.raises(SettingsError, match="AMAZON_USE_MOCK=true is refused"):
        load_settings(PollerSettings, {"AMAZON_USE_MOCK": "true", "KEYBUZZ_ENV": env})
