"""Amazon's token service (keybuzz_connector_amazon.tokens, lwa) as another service uses it:
Vault credentials, LWA's refresh over HTTP, the cache, reauth reported through the
caller's outbox, LWA's failures retried within their budget."""

from __future__ import annotations

import asyncio

import pytest
from keybuzz_connector_amazon import (
    AppCredentials,
    CredentialsMissing,
    LwaClient,
    LwaUnavailable,
    ReauthRequired,
)
from keybuzz_devstack import infra
from keybuzz_devstack.oauth_testing import (
    FR,
    SELLER,
    SPAPI_CALLER,
    LwaCounter,
    LwaFaults,
    OauthKit,
    frontend_result,
    new_tenant,
    read_secret,
    revoke_in_sandbox,
    tenant_path,
    token_service,
)
from keybuzz_devstack.testing import eventually, find_event


@pytest.fixture
def kit(shared_kit: OauthKit) -> OauthKit:
    """The module's oauth service (``shared_kit``): these tests need no setting of their own."""
    return shared_kit


async def test_access_token_works_on_spapi_and_is_cached(kit, start_service):
    tenant = new_tenant()
    assert frontend_result(await kit.connect(tenant))["status"] == "connected"
    caller = await start_service(SPAPI_CALLER)
    counter = LwaCounter()
    tokens = token_service(caller.runtime, kit, http=counter.client)

    token = await tokens.access_token(tenant)
    assert token.value.startswith("Atza|") and token.seller_id == SELLER
    assert token.marketplace_id == FR and token.region == "eu"
    assert "Atza" not in repr(token)
    # The token opens SP-API for that seller (sandbox, over HTTP like Amazon).
    orders = await counter.client.get(
        f"{kit.sandbox}/orders/v0/orders",
        params={"MarketplaceIds": FR, "CreatedAfter": "2020-01-01T00:00:00Z"},
        headers={"x-amz-access-token": token.value},
    )
    assert orders.status_code == 200, orders.text
    assert await tokens.access_token(tenant) is token  # cached
    assert counter.calls == 1
    await tokens.aclose()


async def test_concurrent_callers_share_one_refresh(kit, start_service):
    tenant = new_tenant()
    await kit.connect(tenant)
    caller = await start_service(SPAPI_CALLER)
    counter = LwaCounter()
    tokens = token_service(caller.runtime, kit, http=counter.client)

    results = await asyncio.gather(*(tokens.access_token(tenant) for _ in range(25)))
    assert counter.calls == 1
    assert len({t.value for t in results}) == 1

    tokens.invalidate(tenant)  # e.g. SP-API answered 403 expired
    await asyncio.gather(*(tokens.access_token(tenant) for _ in range(10)))
    assert counter.calls == 2
    await tokens.aclose()


async def test_revoked_refresh_token_requires_reauth(kit, start_service, stack):
    tenant = new_tenant()
    await kit.connect(tenant)
    caller = await start_service(SPAPI_CALLER, AMAZON_APP_SOURCE=kit.app_source)
    counter = LwaCounter()
    tokens = token_service(caller.runtime, kit, http=counter.client)
    await tokens.access_token(tenant)

    secret = read_secret(stack, tenant_path(tenant))
    assert secret is not None
    await revoke_in_sandbox(kit.sandbox, secret["refresh_token"])
    tokens.invalidate(tenant)

    with pytest.raises(ReauthRequired) as refused:
        await tokens.access_token(tenant)
    assert refused.value.tenant_id == tenant and refused.value.seller_id == SELLER
    assert "Atzr" not in str(refused.value)

    # The calling service reported it through its own outbox…
    event = await find_event(await kit.operator_js(), "connection.reauth_required", tenant)
    assert event["sellerId"] == SELLER and "invalid_grant" in event["reason"]

    # …and the oauth service, the owner of the connection, marked it.
    async def reauth_shown() -> bool:
        return (await kit.status(tenant))["status"] == "REAUTH_REQUIRED"

    await eventually(reauth_shown)
    assert "invalid_grant" in (await kit.status(tenant))["lastError"]

    # The same refused token is not sent to LWA again, nor reported twice.
    calls = counter.calls
    with pytest.raises(ReauthRequired):
        await tokens.access_token(tenant)
    assert counter.calls == calls
    reported = await caller.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE subject = 'connection.reauth_required'"
    )
    assert reported == 1

    # Consent again: connected again, and a late reauth event does not undo it.
    assert frontend_result(await kit.connect(tenant))["status"] == "connected"
    assert (await kit.status(tenant))["status"] == "CONNECTED"
    assert (await tokens.access_token(tenant)).value.startswith("Atza|")


async def test_missing_credentials_name_tenant_and_path(kit, start_service):
    caller = await start_service(SPAPI_CALLER)
    tokens = token_service(caller.runtime, kit)
    tenant = new_tenant()
    with pytest.raises(CredentialsMissing) as missing:
        await tokens.access_token(tenant)
    assert missing.value.tenant_id == tenant and missing.value.path == tenant_path(tenant)
    assert tenant in str(missing.value) and tenant_path(tenant) in str(missing.value)
    await tokens.aclose()


async def test_lwa_transient_failures_are_retried_then_reported():
    """Connection refused is transient: every attempt is made, then a typed error."""
    attempts: list[str] = []

    async def count(request):  # request hook: fires for each attempt, even unanswered ones
        attempts.append(request.url.path)

    import httpx

    port = infra.free_port()  # nothing listens there
    http = httpx.AsyncClient(timeout=1, event_hooks={"request": [count]})
    lwa = LwaClient(
        f"http://127.0.0.1:{port}/auth/o2/token", http=http, attempts=3, max_backoff=0.1
    )
    app = AppCredentials("id", "secret", "app", "https://x/cb", "eu")
    with pytest.raises(LwaUnavailable) as failed:
        await lwa.refresh(app, "Atzr|not-a-real-token")
    assert len(attempts) == 3
    assert "3 times" in str(failed.value) and "Atzr" not in str(failed.value)
    await lwa.aclose()


async def test_lwa_503_twice_then_a_token(kit, start_service, lwa_faults: LwaFaults):
    tenant = new_tenant()
    await kit.connect(tenant)
    caller = await start_service(SPAPI_CALLER)
    counter = LwaCounter()
    tokens = token_service(caller.runtime, kit, http=counter.client)

    await lwa_faults.fail_next(2, 503)
    assert (await tokens.access_token(tenant)).value.startswith("Atza|")
    assert counter.calls == 3
    await tokens.aclose()


async def test_lwa_429_beyond_the_retry_budget_is_unavailable_not_reauth(
    kit, start_service, lwa_faults: LwaFaults
):
    tenant = new_tenant()
    await kit.connect(tenant)
    caller = await start_service(SPAPI_CALLER)
    counter = LwaCounter()
    tokens = token_service(caller.runtime, kit, http=counter.client)

    await lwa_faults.fail_next(5, 429)  # the budget is 4 attempts
    with pytest.raises(LwaUnavailable) as failed:
        await tokens.access_token(tenant)
    assert counter.calls == 4 and "HTTP 429" in str(failed.value)
    assert (await kit.status(tenant))["status"] == "CONNECTED"
    reported = await caller.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE subject = 'connection.reauth_required'"
    )
    assert reported == 0
    # Not remembered as refused: once LWA answers, the same refresh token works.
    await lwa_faults.clear()
    assert (await tokens.access_token(tenant)).value.startswith("Atza|")
    await tokens.aclose()
