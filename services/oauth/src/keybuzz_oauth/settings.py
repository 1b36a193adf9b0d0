"""oauth settings (docs/CONTRACTS.md, "Configuration"); each marketplace's own (its redirect
flow, its shop API) are its connector's, read by marketplace (``MarketplaceSettings``)."""

from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from keybuzz_shared.connectors.settings import MarketplaceSettings

STATE_TTL_SECONDS = 15 * 60


class OauthSettings(MarketplaceSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {
        "http_port": "OAUTH_PORT",
        "state_ttl_seconds": "OAUTH_STATE_TTL_SECONDS",
    }
    # A production seller must not be sent back to a developer's localhost.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = MarketplaceSettings.DEV_ONLY_DEFAULTS | {
        "frontend_url"
    }

    http_port: int = 8001
    # The product's channel pages: the browser lands on its marketplace's, ``landing_page``.
    frontend_url: str = "http://localhost:3000/settings/channels"
    state_ttl_seconds: float = STATE_TTL_SECONDS

    def landing_page(self, marketplace: str) -> str:
        """Where the browser lands after ``marketplace``'s callback: its page under
        ``frontend_url``, named as oauth's paths name it (in lower case), the
        query of ``frontend_url`` kept."""
        parts = urlsplit(self.frontend_url)
        path = f"{parts.path.rstrip('/')}/{marketplace.lower()}"
        return urlunsplit(parts._replace(path=path))
