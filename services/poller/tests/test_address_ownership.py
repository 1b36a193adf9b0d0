"""An inbound address belongs to the tenant it was created for (docs/SECURITY.md, issue 20).

A ``tenant.synced`` giving tenant A's address to tenant B is dead-lettered with the
reason and nothing of it is applied: A's buyers' mail stays A's tickets.
"""

from __future__ import annotations

import uuid
from typing import Any

from keybuzz_devstack.testing import RunningService
from keybuzz_shared.messaging import REASON_HEADER
from mailkit import (
    DOMAIN,
    get_json,
    module_poller,
    new_tenant,
    poll_now,
    publish,
    relay_mail,
    send,
    synced,
    synced_event,
)

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller

DEAD_LETTERS = "deadletter.poller.tenant.synced"


async def projection(poller: RunningService, *tenant_ids: str) -> list[tuple[Any, ...]]:
    """Every row of the tenants' state and addresses, in a fixed order."""
    pool = poller.runtime.pool
    tenants = await pool.fetch(
        "SELECT tenant_id, archived, as_of FROM poller_tenants WHERE tenant_id = ANY($1)"
        " ORDER BY tenant_id",
        list(tenant_ids),
    )
    addresses = await pool.fetch(
        "SELECT email, tenant_id, marketplace, country, enabled, updated_at"
        " FROM poller_inbound_addresses WHERE tenant_id = ANY($1) ORDER BY email",
        list(tenant_ids),
    )
    schedule = await pool.fetch(
        "SELECT tenant_id FROM poller_poll_status WHERE tenant_id = ANY($1)", list(tenant_ids)
    )
    return [tuple(r) for r in [*tenants, *addresses, *schedule]]


async def forged_synced_is_dead_lettered(
    poller: RunningService, tenant_id: str, *emails: str
) -> str:
    """Publish ``tenant.synced`` giving ``emails`` to ``tenant_id``; its dead letter's reason."""
    event = synced_event(tenant_id, *emails)
    js = (await poller.operator()).jetstream()  # the poller's own user may not read them
    letters = await js.subscribe(DEAD_LETTERS, stream="DEADLETTER", ordered_consumer=True)
    try:
        await publish(poller, event)
        while True:
            letter = await letters.next_msg(timeout=15)
            if event.event_id.encode() in letter.data:
                return str(letter.headers[REASON_HEADER])
    finally:
        await letters.unsubscribe()


async def a_mail_becomes_a_ticket_of(poller: RunningService, tenant_id: str, address: str) -> None:
    text = f"still mine {uuid.uuid4().hex}"
    await send(poller, relay_mail(address, text), address)
    assert (await poll_now(poller, tenant_id))["stored"] == 1
    [ticket] = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
    detail = await get_json(poller, tenant_id, f"/api/v1/tickets/{ticket['id']}")
    assert text in detail["messages"][-1]["body"]


async def test_a_forged_synced_giving_a_tenants_address_to_another_is_dead_lettered(
    poller: RunningService,
) -> None:
    (owner, address), (forger, forger_address) = new_tenant(), new_tenant()
    await synced(poller, owner, address)
    before = await projection(poller, owner, forger)

    reason = await forged_synced_is_dead_lettered(poller, forger, forger_address, address)

    assert f"tenant.synced for tenant {forger}" in reason
    assert "another tenant" in reason and "nothing applied" in reason
    assert address not in reason  # the address's token lets mail in: never in a reason
    assert await projection(poller, owner, forger) == before  # not even the forger's own
    await a_mail_becomes_a_ticket_of(poller, owner, address)
    assert (await get_json(poller, forger, "/api/v1/tickets"))["items"] == []


async def test_an_address_already_another_tenants_is_not_taken_whatever_its_name(
    poller: RunningService,
) -> None:
    # An address whose local part names no tenant: only the projection knows its owner.
    (owner, _), (forger, _) = new_tenant(), new_tenant()
    address = f"shop-{uuid.uuid4().hex[:12]}@{DOMAIN}"
    await synced(poller, owner, address)
    before = await projection(poller, owner, forger)

    reason = await forged_synced_is_dead_lettered(poller, forger, address)

    assert "belong to another tenant" in reason
    assert await projection(poller, owner, forger) == before
    await a_mail_becomes_a_ticket_of(poller, owner, address)


async def test_an_address_naming_another_tenant_is_refused_before_that_tenant_synced(
    poller: RunningService,
) -> None:
    # tenant-sync writes amazon.<tenantId>.…: such an address can only ever be that tenant's.
    (owner, address), (forger, _) = new_tenant(), new_tenant()

    reason = await forged_synced_is_dead_lettered(poller, forger, address)

    assert "made for another tenant" in reason
    assert await projection(poller, owner, forger) == []
    await synced(poller, owner, address)  # the owner's own event still applies
    await a_mail_becomes_a_ticket_of(poller, owner, address)
