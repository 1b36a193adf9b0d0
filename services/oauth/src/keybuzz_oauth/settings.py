"""oauth settings (docs/CONTRACTS.md, "Configuration"); each marketplace's own (its redirect
flow, its shop API) are its connector's, read by marketplace (``MarketplaceSettings``)."""

from typing import ClassVar

from keybuzz_shared.connectors.settings import MarketplaceSettings

STATE_TTL_SECONDS = 15 * 60


class OauthSettings(MarketplaceSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {
        "http_port": "OAUTH_PORT",
        "state_ttl_seconds": "OAUTH_STATE_TTL_SECONDS",
        "redirect_uri": "OAUTH_REDIRECT_URI",
    }
    # A production seller must not be sent back to a developer's localhost (a redirect flow's
    # setting: its connector's, checked with them).
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = MarketplaceSettings.DEV_ONLY_DEFAULTS | {
        "frontend_url"
    }

    http_port: int = 8001
    # Unset: the app credential's redirect_uri (what is registered with the marketplace).
    redirect_uri: str | None = None
    state_ttl_seconds: float = STATE_TTL_SECONDS
