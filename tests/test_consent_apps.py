"""The dev stack's consent apps: each double whose sellers consent has its app registered
with the stack's oauth callback and kept in Vault where its connector reads it, so that
"Connect …" works from the first ``make run`` (the conformance suite registers its own
with the same function)."""

from __future__ import annotations

import httpx
from keybuzz_devstack.consent_apps import callback_url, register_consent_apps
from keybuzz_sandbox.conformance import DRIVERS, ConsentDriver
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.vault import VaultClient


async def test_each_consent_double_has_its_app_where_its_connector_reads_it(
    sandbox_url: str, vault: VaultClient
) -> None:
    oauth_url = "http://127.0.0.1:18001"
    consenting = {m for m, driver in DRIVERS.items() if isinstance(driver, ConsentDriver)}
    assert consenting, "no double's sellers connect by consent"
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as admin:
        registered = await register_consent_apps(admin, oauth_url, vault)
        again = await register_consent_apps(admin, oauth_url, vault)  # every make run
    assert set(registered) == consenting and again == registered
    for marketplace in consenting:
        flow = connector_for(marketplace).redirect_flow
        assert flow is not None, marketplace
        app = await flow.vault(vault, "default").app_credentials()
        assert app.redirect_uri == callback_url(oauth_url, marketplace)
        assert app.application_id == registered[marketplace].fields["client_id"]
