"""oauth's side of Amazon's tokens: the callback's code exchange under LWA's failures, and
a reauth event older than the seller's new consent. The token service itself, as any
service uses it, is tested in connectors/amazon/tests/test_amazon_tokens.py."""

from __future__ import annotations

from datetime import UTC, datetime

from keybuzz_devstack.testing import eventually
from keybuzz_shared.events import ConnectionReauthRequired
from keybuzz_shared.messaging import publish_event
from oauth_testkit import (
    OTHER_SELLER,
    SELLER,
    LwaFaults,
    frontend_result,
    new_tenant,
    read_secret,
    tenant_path,
)


async def test_callback_retries_a_failing_code_exchange(kit, stack, lwa_faults: LwaFaults):
    tenant = new_tenant()
    # 503: LWA refused before redeeming the code (a 500 may come after, burning it).
    await lwa_faults.fail_next(2, 503)
    assert frontend_result(await kit.connect(tenant)) == {"status": "connected"}
    assert await lwa_faults.left() == 0  # both failures were answered, then the exchange
    assert (await kit.status(tenant))["status"] == "CONNECTED"
    assert read_secret(stack, tenant_path(tenant)) is not None


async def test_callback_gives_up_after_the_retry_budget(kit, stack, lwa_faults: LwaFaults):
    tenant = new_tenant()
    await lwa_faults.fail_next(4, 500)
    answer = frontend_result(await kit.connect(tenant))
    assert answer == {"status": "error", "reason": "amazon_unavailable"}
    assert await lwa_faults.left() == 0
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "did not answer" in status["lastError"]
    assert read_secret(stack, tenant_path(tenant)) is None


async def test_late_reauth_event_does_not_undo_a_new_consent(kit):
    """An invalid_grant seen before the seller consented again must not mark the new connection."""
    stale_tenant, fresh_tenant = new_tenant(), new_tenant()
    before = datetime.now(UTC)
    await kit.connect(stale_tenant)
    # One seller links one tenant at a time: the second tenant connects another seller.
    await kit.connect(fresh_tenant, "DE", seller=OTHER_SELLER)
    js = kit.runtime.js
    await publish_event(
        js, ConnectionReauthRequired(tenant_id=stale_tenant, seller_id=SELLER, occurred_at=before)
    )
    await publish_event(
        js, ConnectionReauthRequired(tenant_id=fresh_tenant, seller_id=OTHER_SELLER)
    )

    async def fresh_marked() -> bool:
        return (await kit.status(fresh_tenant))["status"] == "REAUTH_REQUIRED"

    await eventually(fresh_marked)  # the consumer has read past the stale event
    assert (await kit.status(stale_tenant))["status"] == "CONNECTED"
