"""oauth's decisions on in-memory ports: no server, milliseconds per test.

The fakes are held to the real adapters (PostgreSQL, OpenBao) by ``test_oauth_store_contract.py``;
the flows through the browser, the sandbox's LWA and Vault stay in the other test files."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from keybuzz_connector_amazon import TenantCredentials
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_oauth import flow, states, status_and_disconnect
from keybuzz_oauth.connections import Status
from keybuzz_oauth.errors import (
    CallbackFailure,
    CredentialsUnavailable,
    Failure,
    InvalidMarketplace,
    MarketplaceNotConfigured,
    NotConnected,
)
from keybuzz_oauth.flow import CallbackParams, Started
from keybuzz_shared.events import ConnectionConnected, ConnectionDisconnected, Event
from keybuzz_shared.tenancy import Principal, TenantContext
from oauth_fakes import APP, FakeOauth, fake_oauth

SELLER = "A12BCIS2R7HD4D"
FR, DE = "A13V1IB3VIYZZH", "A1PA6795UKMFR9"


def tenant(tenant_id: str, user: str = "user-1") -> TenantContext:
    return TenantContext(
        principal=Principal(user_id=user, tenants=(tenant_id,)), tenant_id=tenant_id
    )


async def start(
    fake: FakeOauth, tenant_id: str, marketplace: str | None = None, *, takeover: bool = False
) -> Started:
    return await flow.start(
        fake.ports, tenant(tenant_id), AMAZON, marketplace, takeover=takeover, presented_nonce=None
    )


def params(
    started: Started, code: str | None, seller: str = SELLER, **changes: str | None
) -> CallbackParams:
    values: dict[str, str | None] = {
        "state": started.state,
        "account_id": seller,
        "code": code,
        "error": None,
        "error_description": None,
        "browser_nonce": started.browser_nonce,
        **changes,
    }
    return CallbackParams(**values)  # type: ignore[arg-type]


async def connect(
    fake: FakeOauth,
    tenant_id: str,
    marketplace: str | None = None,
    *,
    seller: str = SELLER,
    takeover: bool = False,
) -> None:
    started = await start(fake, tenant_id, marketplace, takeover=takeover)
    code = fake.lwa.issue(f"code-{tenant_id}-{len(fake.lwa.exchanged)}")
    await flow.callback(fake.ports, params(started, code, seller))


async def refused(fake: FakeOauth, callback: CallbackParams) -> CallbackFailure:
    with pytest.raises(CallbackFailure) as caught:
        await flow.callback(fake.ports, callback)
    return caught.value


def events(fake: FakeOauth) -> list[tuple[str, str]]:
    """(event type, tenant) of every event published, in order."""
    return [(type(e).__name__, e.tenant_id) for e in fake.units.published]


def published(fake: FakeOauth, kind: type[Event]) -> list[Event]:
    return [e for e in fake.units.published if isinstance(e, kind)]


# --- start -------------------------------------------------------------------------------


async def test_start_resolves_a_country_a_marketplace_id_or_the_default() -> None:
    fake = fake_oauth(amazon_default_marketplace="DE")
    assert (await start(fake, "t1", "fr")).site.id == FR
    assert (await start(fake, "t1", DE)).site.code == "DE"
    assert (await start(fake, "t1")).site.code == "DE"


async def test_start_of_an_unknown_marketplace_is_refused_and_writes_nothing() -> None:
    fake = fake_oauth()
    with pytest.raises(InvalidMarketplace):
        await start(fake, "t1", "XX")
    assert fake.store.states == {} and fake.store.rows == {}


async def test_start_without_app_credentials_says_amazon_is_not_configured() -> None:
    fake = fake_oauth()
    fake.vault.app = None
    with pytest.raises(MarketplaceNotConfigured, match="not configured"):
        await start(fake, "t1")
    fake.vault.app, fake.vault.failing = APP, {"app"}
    with pytest.raises(MarketplaceNotConfigured):
        await start(fake, "t1")
    assert fake.store.states == {} and fake.store.rows == {}


async def test_start_keeps_a_digest_of_the_state_marks_pending_and_sends_the_state() -> None:
    fake = fake_oauth(state_ttl_seconds=600)
    started = await start(fake, "t1", "FR")
    assert list(fake.store.states) == [states.digest(started.state)]
    stored = fake.store.states[states.digest(started.state)].row
    assert stored.browser_hash == states.digest(started.browser_nonce)
    assert started.expires_at == fake.clock() + timedelta(seconds=600)
    assert parse_qs(urlsplit(started.auth_url).query)["state"] == [started.state]
    assert fake.store.rows["t1"].status is Status.PENDING


async def test_a_new_consent_never_downgrades_a_working_connection() -> None:
    fake = fake_oauth()
    await connect(fake, "t1")
    await start(fake, "t1", "DE")  # adding a marketplace
    assert fake.store.rows["t1"].status is Status.CONNECTED


# --- callback ----------------------------------------------------------------------------


async def test_a_callback_connects_stores_the_token_and_says_connected_once() -> None:
    fake = fake_oauth()
    started = await start(fake, "t1")
    code = fake.lwa.issue("code-1")
    connection = await flow.callback(fake.ports, params(started, code))
    assert connection.status is Status.CONNECTED and connection.marketplace_ids == [FR]
    assert fake.vault.tenants["t1"].refresh_token == "Atzr|refresh-code-1"
    assert fake.vault.tenants["t1"].seller_id == SELLER
    assert fake.vault.tenants["t1"].created_at == fake.clock().isoformat()
    assert events(fake) == [("ConnectionConnected", "t1")]
    # The same redirect again (a reload): the state is used; nothing is redeemed or said twice.
    again = await refused(fake, params(started, code))
    assert again.reason == "state_already_used"
    assert fake.lwa.exchanged == ["code-1"] and events(fake) == [("ConnectionConnected", "t1")]
    assert fake.store.rows["t1"].status is Status.CONNECTED


async def test_a_callback_in_another_browser_is_refused_and_spends_the_state() -> None:
    fake = fake_oauth()
    started = await start(fake, "t1")
    code = fake.lwa.issue("code-1")
    other_browser = states.browser_nonce(None)
    failure = await refused(fake, params(started, code, browser_nonce=other_browser))
    assert (failure.reason, failure.failure) == ("browser_mismatch", Failure.REFUSED)
    assert fake.lwa.exchanged == [] and fake.vault.tenants == {}
    assert fake.store.rows["t1"].status is Status.ERROR
    assert fake.store.rows["t1"].last_error == failure.message
    # The right browser comes too late: the state was consumed by the refused one.
    assert (await refused(fake, params(started, code))).reason == "state_already_used"
    assert fake.units.published == []


async def test_a_callback_without_the_browser_cookie_is_refused() -> None:
    fake = fake_oauth()
    started = await start(fake, "t1")
    failure = await refused(fake, params(started, fake.lwa.issue("c"), browser_nonce=None))
    assert failure.reason == "browser_not_bound" and fake.lwa.exchanged == []


async def test_an_expired_or_unknown_state_is_refused_before_anything_else() -> None:
    fake = fake_oauth(state_ttl_seconds=60)
    started = await start(fake, "t1")
    fake.clock.advance(61)
    assert (await refused(fake, params(started, fake.lwa.issue("c")))).reason == "state_expired"
    forged = params(started, "c", state=states.new_state().value)
    assert (await refused(fake, forged)).reason == "invalid_state"
    assert (await refused(fake, params(started, "c", state=None))).reason == "invalid_state"
    assert fake.lwa.exchanged == [] and fake.units.published == []
    # Nothing consumed: the tenant's connection was not touched by a stranger's state.
    assert fake.store.rows["t1"].status is Status.PENDING


async def test_amazon_s_error_redirect_and_missing_parameters_are_refused() -> None:
    fake = fake_oauth()
    denied = params(
        await start(fake, "t1"), None, error="Access_Denied\x00", error_description="no\nthanks"
    )
    failure = await refused(fake, denied)
    assert failure.reason == "access_denied"
    assert failure.message == "Amazon did not authorize the connection (access_denied): no thanks"
    bad_seller = params(await start(fake, "t1"), fake.lwa.issue("c"), seller="A1; DROP")
    assert (await refused(fake, bad_seller)).reason == "missing_parameters"
    assert fake.lwa.exchanged == []


async def test_a_refused_code_and_an_lwa_outage_are_told_apart() -> None:
    fake = fake_oauth()
    rejected = await refused(fake, params(await start(fake, "t1"), "never-issued"))
    assert (rejected.reason, rejected.failure) == ("authorization_code_rejected", Failure.REFUSED)
    fake.lwa.down = True
    outage = await refused(fake, params(await start(fake, "t1"), fake.lwa.issue("c")))
    assert (outage.reason, outage.failure) == ("amazon_unavailable", Failure.UPSTREAM)
    fake.lwa.down, fake.lwa.refusal = False, "invalid_client"
    other = await refused(fake, params(await start(fake, "t1"), fake.lwa.issue("d")))
    assert (other.reason, other.failure) == ("amazon_error", Failure.UPSTREAM)
    assert "invalid_client" in other.message
    assert fake.vault.tenants == {} and fake.units.published == []
    assert fake.store.rows["t1"].status is Status.ERROR


async def test_a_vault_failure_leaves_nothing_connected() -> None:
    fake = fake_oauth()
    fake.vault.failing = {"store"}
    failure = await refused(fake, params(await start(fake, "t1"), fake.lwa.issue("c")))
    assert (failure.reason, failure.failure) == ("vault_unavailable", Failure.UNAVAILABLE)
    assert fake.store.rows["t1"].status is Status.ERROR
    assert fake.units.published == [] and fake.vault.tenants == {}


async def test_app_credentials_gone_by_the_callback_redeem_no_code() -> None:
    fake = fake_oauth()
    started = await start(fake, "t1")
    fake.vault.failing = {"app"}
    unreadable = await refused(fake, params(started, fake.lwa.issue("c")))
    assert (unreadable.reason, unreadable.failure) == ("vault_unavailable", Failure.UNAVAILABLE)
    started = await start_with_vault(fake)
    fake.vault.app = None
    missing = await refused(fake, params(started, "c"))
    assert (missing.reason, missing.failure) == ("app_credentials_missing", Failure.UNAVAILABLE)
    assert fake.lwa.exchanged == [] and fake.store.rows["t1"].status is Status.ERROR


async def start_with_vault(fake: FakeOauth) -> Started:
    fake.vault.failing = set()
    return await start(fake, "t1")


async def test_a_seller_held_by_another_tenant_is_refused_before_its_code_is_redeemed() -> None:
    fake = fake_oauth()
    await connect(fake, "t-other")
    exchanged = list(fake.lwa.exchanged)
    failure = await refused(fake, params(await start(fake, "t1"), fake.lwa.issue("c")))
    assert failure.reason == "seller_already_connected"
    assert fake.lwa.exchanged == exchanged  # the code was not redeemed
    assert fake.store.rows["t-other"].status is Status.CONNECTED
    assert "t-other" in fake.vault.tenants and "t1" not in fake.vault.tenants
    assert events(fake) == [("ConnectionConnected", "t-other")]


async def test_a_takeover_disconnects_the_other_tenant_there_then_connects_here() -> None:
    fake = fake_oauth()
    await connect(fake, "t-other")
    fake.store.locks.clear()
    await connect(fake, "t1", takeover=True)
    assert fake.store.rows["t-other"].status is Status.DISCONNECTED
    assert "t-other" not in fake.vault.tenants and "t1" in fake.vault.tenants
    assert fake.store.rows["t1"].status is Status.CONNECTED
    assert events(fake) == [
        ("ConnectionConnected", "t-other"),
        ("ConnectionDisconnected", "t-other"),
        ("ConnectionConnected", "t1"),
    ]
    [disconnected] = published(fake, ConnectionDisconnected)
    assert isinstance(disconnected, ConnectionDisconnected)
    assert disconnected.reason == "the seller connected another KeyBuzz account"
    # The seller first, then both tenants in order: two takeovers cannot deadlock.
    assert fake.store.locks == [f"seller:{SELLER}", "tenant:t-other", "tenant:t1"]


async def test_a_takeover_that_cannot_delete_the_other_tenant_s_token_changes_no_row() -> None:
    fake = fake_oauth()
    await connect(fake, "t-other")
    fake.vault.failing = {"delete"}
    started = await start(fake, "t1", takeover=True)
    failure = await refused(fake, params(started, fake.lwa.issue("c")))
    assert failure.reason == "vault_unavailable"
    assert fake.store.rows["t-other"].status is Status.CONNECTED
    assert fake.store.rows["t1"].status is Status.ERROR
    assert events(fake) == [("ConnectionConnected", "t-other")]


async def test_the_same_seller_adds_marketplaces_another_seller_starts_afresh() -> None:
    fake = fake_oauth()
    await connect(fake, "t1", "FR")
    await connect(fake, "t1", "DE")
    assert fake.store.rows["t1"].marketplace_ids == sorted([FR, DE])
    await connect(fake, "t1", "DE", seller="A3DESELLERBENCH")
    assert fake.store.rows["t1"].marketplace_ids == [DE]
    connected = published(fake, ConnectionConnected)
    assert [len(e.marketplace_ids) for e in connected] == [1, 2, 1]  # type: ignore[attr-defined]


# --- status ------------------------------------------------------------------------------


async def test_status_of_a_tenant_never_started_or_not_completed_in_time() -> None:
    fake = fake_oauth(state_ttl_seconds=60)
    assert (
        await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    ).status is Status.NOT_CONNECTED
    await start(fake, "t1")
    assert (await status_and_disconnect.status(fake.ports, "t1", AMAZON)).status is Status.PENDING
    fake.clock.advance(61)
    late = await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    assert late.status is Status.NOT_CONNECTED and "not completed in time" in (
        late.last_error or ""
    )


async def test_status_checks_the_credentials_a_connected_tenant_has_in_vault() -> None:
    fake = fake_oauth()
    await connect(fake, "t1")
    report = await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    assert (report.status, report.credentials_verified) == (Status.CONNECTED, True)

    fake.vault.failing = {"check"}  # Vault cannot say: the row's status stands, unverified
    unknown = await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    assert (unknown.status, unknown.credentials_verified) == (Status.CONNECTED, None)
    assert "could not verify" in (unknown.last_error or "")

    fake.vault.failing = set()
    stored = fake.vault.tenants["t1"]
    fake.vault.tenants["t1"] = TenantCredentials(
        tenant_id="t1",
        refresh_token=stored.refresh_token,
        seller_id="ANOTHERSELLER",
        marketplace_id=FR,
        region="eu",
    )
    mismatch = await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    assert (mismatch.status, mismatch.credentials_verified) == (Status.ERROR, False)
    assert "ANOTHERSELLER" in (mismatch.last_error or "")

    del fake.vault.tenants["t1"]  # seed 003: CONNECTED in the database, nothing in Vault
    missing = await status_and_disconnect.status(fake.ports, "t1", AMAZON)
    assert (missing.status, missing.credentials_verified) == (Status.ERROR, False)
    assert fake.store.rows["t1"].status is Status.CONNECTED  # a read changes no row


# --- disconnect --------------------------------------------------------------------------


async def test_disconnect_deletes_the_token_and_says_disconnected_once() -> None:
    fake = fake_oauth()
    await connect(fake, "t1")
    report = await status_and_disconnect.disconnect(fake.ports, tenant("t1", "user-9"), AMAZON)
    assert report.status is Status.DISCONNECTED and "t1" not in fake.vault.tenants
    again = await status_and_disconnect.disconnect(fake.ports, tenant("t1"), AMAZON)
    assert again.status is Status.DISCONNECTED
    assert events(fake) == [("ConnectionConnected", "t1"), ("ConnectionDisconnected", "t1")]
    [event] = published(fake, ConnectionDisconnected)
    assert event.reason == "disconnected by user user-9"  # type: ignore[attr-defined]


async def test_disconnect_of_a_tenant_never_started_is_refused() -> None:
    fake = fake_oauth()
    with pytest.raises(NotConnected):
        await status_and_disconnect.disconnect(fake.ports, tenant("t1"), AMAZON)
    assert fake.units.published == []


async def test_disconnect_when_vault_cannot_delete_changes_nothing() -> None:
    fake = fake_oauth()
    await connect(fake, "t1")
    fake.vault.failing = {"delete"}
    with pytest.raises(CredentialsUnavailable):
        await status_and_disconnect.disconnect(fake.ports, tenant("t1"), AMAZON)
    assert fake.store.rows["t1"].status is Status.CONNECTED and "t1" in fake.vault.tenants
    assert events(fake) == [("ConnectionConnected", "t1")]


async def test_disconnect_clears_a_token_a_failed_callback_left_behind() -> None:
    fake = fake_oauth()
    await start(fake, "t1")
    fake.vault.tenants["t1"] = TenantCredentials("t1", "Atzr|left", SELLER, FR, "eu")
    await status_and_disconnect.disconnect(fake.ports, tenant("t1"), AMAZON)
    assert fake.vault.tenants == {}


# --- reauthorization ---------------------------------------------------------------------


async def test_reauth_marks_a_connection_made_before_the_refusal_only() -> None:
    fake = fake_oauth()
    await connect(fake, "t1")
    before = fake.clock() - timedelta(seconds=1)
    assert not await flow.reauth_required(fake.ports, "t1", SELLER, "invalid_grant", before, AMAZON)
    assert not await flow.reauth_required(fake.ports, "t1", "OTHER", None, fake.clock(), AMAZON)
    assert await flow.reauth_required(
        fake.ports, "t1", SELLER, "revoked\x00\n", fake.clock(), AMAZON
    )
    row = fake.store.rows["t1"]
    assert (row.status, row.last_error) == (Status.REAUTH_REQUIRED, "revoked")
    assert not await flow.reauth_required(fake.ports, "t2", None, None, fake.clock(), AMAZON)
