"""Account linking (issue 10 §6): the callback counts only in the browser that started the
flow, one Amazon seller is linked to one tenant, and a disconnect racing a callback never
leaves Vault and the database disagreeing."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from typing import Any

from keybuzz_devstack.testing import eventually
from keybuzz_oauth.app import BROWSER_COOKIE
from oauth_testkit import (
    OTHER_SELLER,
    SELLER,
    Hold,
    OauthKit,
    VaultGate,
    find_event,
    frontend_result,
    new_tenant,
    read_secret,
    tenant_path,
)


def _set_cookie(response_headers: Any) -> str:
    cookies = [v for v in response_headers.get_list("set-cookie") if v.startswith(BROWSER_COOKIE)]
    assert len(cookies) == 1, cookies
    return cookies[0]


async def test_start_binds_the_state_to_the_browser(kit):
    tenant = new_tenant()
    response = await kit.browser.post(
        f"{kit.service.url}/api/v1/marketplaces/amazon/oauth/start", headers=kit.headers(tenant)
    )
    assert response.status_code == 200
    attributes = [a.strip().lower() for a in _set_cookie(response.headers).split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "path=/api/v1/marketplaces/amazon/oauth" in attributes
    assert "secure" not in attributes  # the service is plain http here
    nonce = kit.browser.cookies[BROWSER_COOKIE]
    stored = await kit.runtime.pool.fetchval("SELECT browser_hash FROM oauth_states")
    assert stored == hashlib.sha256(nonce.encode()).hexdigest()  # only its hash is kept
    assert nonce not in response.text

    # A second consent from the same browser (another tab) keeps the same nonce: both work.
    first = await kit.start(tenant)
    second = await kit.start(tenant)
    assert kit.browser.cookies[BROWSER_COOKIE] == nonce
    first_back = await kit.consent(first["authUrl"])
    assert frontend_result(await kit.follow(await kit.consent(second["authUrl"])))["status"] == (
        "connected"
    )
    assert frontend_result(await kit.follow(first_back))["status"] == "connected"


async def test_cookie_is_secure_when_the_callback_is_https(make_kit):
    callback = "https://platform-api.keybuzz.test/api/v1/marketplaces/amazon/oauth/callback"
    kit = await make_kit(OAUTH_REDIRECT_URI=callback)
    response = await kit.browser.post(
        f"{kit.service.url}/api/v1/marketplaces/amazon/oauth/start",
        headers=kit.headers(new_tenant()),
    )
    assert response.status_code == 200
    assert "secure" in [a.strip().lower() for a in _set_cookie(response.headers).split(";")]


async def test_consent_completed_in_another_browser_is_refused(kit, stack):
    """An authUrl handed to someone else cannot link their Amazon account to our tenant."""
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])

    stranger = kit.new_browser()  # no cookie at all
    answer = frontend_result(await kit.follow(callback_url, browser=stranger))
    assert answer == {"status": "error", "reason": "browser_not_bound"}
    # The state is spent: not even the right browser can use it now.
    replay = frontend_result(await kit.follow(callback_url))
    assert replay == {"status": "error", "reason": "state_already_used"}
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "browser" in status["lastError"]
    assert read_secret(stack, tenant_path(tenant)) is None


async def test_callback_with_another_browsers_cookie_is_refused(kit, stack):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    attacker = kit.new_browser()
    await kit.start(new_tenant(), browser=attacker)  # holds a nonce of its own
    answer = await kit.follow(callback_url, browser=attacker, accept="application/json")
    assert answer.status_code == 400 and answer.json()["reason"] == "browser_mismatch"
    assert read_secret(stack, tenant_path(tenant)) is None
    assert (await kit.status(tenant))["status"] == "ERROR"


async def test_seller_connected_to_another_tenant_is_refused(kit, stack):
    owner, other = new_tenant(), new_tenant()
    assert frontend_result(await kit.connect(owner))["status"] == "connected"

    answer = frontend_result(await kit.connect(other))
    assert answer == {"status": "error", "reason": "seller_already_connected"}
    status = await kit.status(other)
    assert status["status"] == "ERROR" and "already connected" in status["lastError"]
    assert owner not in status["lastError"]  # another tenant's id is not disclosed
    assert read_secret(stack, tenant_path(other)) is None
    assert (await kit.status(owner))["status"] == "CONNECTED"
    assert read_secret(stack, tenant_path(owner)) is not None
    # Another seller is fine.
    assert frontend_result(await kit.connect(other, "DE", seller=OTHER_SELLER)) == {
        "status": "connected"
    }


async def test_takeover_disconnects_the_other_tenant(kit, stack):
    owner, newcomer = new_tenant(), new_tenant()
    await kit.connect(owner)
    owner_connection = str((await kit.row(owner))["id"])

    answer = frontend_result(await kit.connect(newcomer, takeover=True))
    assert answer == {"status": "connected"}
    assert (await kit.status(newcomer))["credentialsVerified"] is True
    assert read_secret(stack, tenant_path(owner)) is None
    owner_row = await kit.row(owner)
    assert owner_row["status"] == "DISCONNECTED" and owner_row["vault_path"] is None
    event = await find_event(await kit.operator_js(), "connection.disconnected", owner)
    assert event["connectionId"] == owner_connection and event["sellerId"] == SELLER
    assert "another KeyBuzz account" in event["reason"]
    subjects = await kit.runtime.pool.fetch(
        "SELECT subject, convert_from(payload, 'UTF8')::jsonb ->> 'tenantId' AS tenant_id "
        "FROM event_outbox ORDER BY id"
    )
    # Queued in one unit of work: the old link ends before the new one is announced.
    assert [(r["subject"], r["tenant_id"]) for r in subjects][-2:] == [
        ("connection.disconnected", owner),
        ("connection.connected", newcomer),
    ]


# --- a disconnect racing an in-flight callback ----------------------------------------------


async def _advisory_waiter_or_done(kit: OauthKit, task: asyncio.Task[Any]) -> None:
    """Until the second request waits on a tenant lock (or, locks removed, simply finishes),
    up to the test's limit."""

    async def waiting_or_done() -> bool:
        waiting = await kit.runtime.pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return bool(waiting) or task.done()

    await eventually(waiting_or_done, within=None)


async def _race(kit: OauthKit, hold: Hold, first: Awaitable[Any], second: Awaitable[Any]) -> None:
    """``first`` is paused right after Vault applied its change; ``second`` runs meanwhile."""
    first_task = asyncio.ensure_future(first)
    await asyncio.wait_for(hold.arrived.wait(), 15)
    second_task = asyncio.ensure_future(second)
    await _advisory_waiter_or_done(kit, second_task)
    hold.released.set()
    await asyncio.wait_for(asyncio.gather(first_task, second_task), 30)


async def test_disconnect_paused_in_vault_while_a_callback_completes(
    make_kit, vault_gate: VaultGate
):
    kit = await make_kit(VAULT_ADDR=vault_gate.url)
    tenant = new_tenant()
    await kit.connect(tenant)
    callback_url = await kit.consent((await kit.start(tenant))["authUrl"])  # a second consent

    hold = vault_gate.hold("DELETE", f"keybuzz/tenants/{tenant}/")
    await _race(kit, hold, kit.api("DELETE", "/connection", tenant), kit.follow(callback_url))

    # The callback went after the disconnect: connected, with its token.
    row = await kit.row(tenant)
    secret = read_secret(kit.stack, tenant_path(tenant))
    assert (row["status"], secret is not None) == ("CONNECTED", True)
    assert (await kit.status(tenant))["credentialsVerified"] is True


async def test_callback_paused_in_vault_while_a_disconnect_comes(make_kit, vault_gate: VaultGate):
    kit = await make_kit(VAULT_ADDR=vault_gate.url)
    tenant = new_tenant()
    callback_url = await kit.consent((await kit.start(tenant))["authUrl"])

    hold = vault_gate.hold("POST", f"keybuzz/tenants/{tenant}/")
    await _race(kit, hold, kit.follow(callback_url), kit.api("DELETE", "/connection", tenant))

    # The disconnect went after the callback: nothing left in Vault behind the row.
    row = await kit.row(tenant)
    secret = read_secret(kit.stack, tenant_path(tenant))
    assert (row["status"], secret is not None) == ("DISCONNECTED", False)
    await find_event(await kit.operator_js(), "connection.disconnected", tenant)
