"""The consent marketplaces' apps of the development stack (eBay's; Amazon's is
``bootstrap.SANDBOX_APP``): each double whose sellers consent registers this stack's
oauth callback with its app, and the app goes where its connector reads it in Vault, so
"Connect …" works in the console from the first ``make run``."""

from __future__ import annotations

import httpx
from keybuzz_sandbox.conformance import DRIVERS, ConsentApp, ConsentDriver
from keybuzz_shared.vault import VaultClient


def callback_url(oauth_url: str, marketplace: str) -> str:
    """oauth's redirect callback of a marketplace (docs/OAUTH.md)."""
    return f"{oauth_url}/api/v1/marketplaces/{marketplace.lower()}/oauth/callback"


def start_url(oauth_url: str, marketplace: str) -> str:
    """oauth's start of a consent to a marketplace (POST: the consent page's URL)."""
    return f"{oauth_url}/api/v1/marketplaces/{marketplace.lower()}/oauth/start"


async def register_consent_apps(
    admin: httpx.AsyncClient, oauth_url: str, vault: VaultClient
) -> dict[str, ConsentApp]:
    """Each consent double's app (``admin``: a client of the sandbox), registered with
    ``oauth_url``'s callback and stored in Vault."""
    registered: dict[str, ConsentApp] = {}
    for marketplace, driver in DRIVERS.items():
        if isinstance(driver, ConsentDriver):
            app = await driver.consent_app(admin, callback_url(oauth_url, marketplace))
            await vault.write(app.path, dict(app.fields))
            registered[marketplace] = app
    return registered
