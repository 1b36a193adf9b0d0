"""Settings of every service that talks to Amazon (docs/CONTRACTS.md, "Configuration").

Services subclass :class:`AmazonSettings` instead of ``CommonSettings``.
Defaults are Amazon's production endpoints, so switching from the sandbox to
Amazon is configuration only (``make run`` points them at the sandbox).
"""

from __future__ import annotations

from typing import ClassVar

from keybuzz_shared.connectors.amazon.marketplaces import LWA_TOKEN_ENDPOINT
from keybuzz_shared.settings import CommonSettings


class AmazonSettings(CommonSettings, kw_only=True, frozen=True):
    # Seed 003 ran without VAULT_ADDR: in production it must be given, not defaulted.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = CommonSettings.DEV_ONLY_DEFAULTS | {"vault_addr"}

    lwa_endpoint: str = LWA_TOKEN_ENDPOINT
    # Extra CA bundle for LWA (a TLS-intercepting proxy); verification itself is never off.
    lwa_cacert: str | None = None
    # Which app's credentials: "default" → secret/keybuzz/amazon_spapi/app,
    # anything else → secret/keybuzz/amazon_spapi/app/<source> (seeds: a temporary app first).
    amazon_app_source: str = "default"
    # One endpoint for every region (the sandbox); unset → the region's SP-API endpoint.
    spapi_endpoint: str | None = None

    # --- the redirect flow (oauth): MarketplaceSettings.redirect_flow
    # Where the browser lands after the callback (?status=connected|error&reason=…).
    frontend_url: str = "http://localhost:3000/settings/channels/amazon"
    # Replaces the marketplace's Seller Central origin (the sandbox in development).
    seller_central_url: str | None = None
    # Unset: the app credential's `draft` flag decides whether version=beta is sent.
    amazon_app_draft: bool | None = None
    # The marketplace of a start request that names none.
    amazon_default_marketplace: str = "FR"
    # The poller's demo mode (docs/POLLER.md, "Mock source"): polls read fixed relay mails
    # about the sandbox seller's orders instead of Dovecot. The poller refuses it when
    # KEYBUZZ_ENV is production-like.
    amazon_use_mock: bool = False
    MAIL_RELAY_DEMO_ENV: ClassVar[str] = "AMAZON_USE_MOCK"

    @property
    def mail_relay_demo(self) -> bool:
        """The relay's demo mode, read without naming the marketplace."""
        return self.amazon_use_mock
