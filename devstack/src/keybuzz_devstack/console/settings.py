"""The console's settings: where it listens, where the services are (README.md, "Console")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from keybuzz_shared.settings import (
    PRODUCTION_LIKE,
    CommonSettings,
    SettingsError,
    env_name,
    load_settings,
)

DEFAULT_PORT = 3000
# The path of the oauth service's FRONTEND_URL in the dev stack: each redirect flow's
# callback lands on its marketplace's page under it (``channel_page``).
CHANNEL_PAGES = "/settings/channels"


def channel_page(marketplace: str) -> str:
    """Where ``marketplace``'s callback lands (oauth's ``landing_page``)."""
    return f"{CHANNEL_PAGES}/{marketplace.lower()}"


class ConsoleSettings(CommonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {
        "http_port": "CONSOLE_PORT",
        "oauth_url": "CONSOLE_OAUTH_URL",
        "orders_url": "CONSOLE_ORDERS_URL",
        "poller_url": "CONSOLE_POLLER_URL",
        "tenant_sync_url": "CONSOLE_TENANT_SYNC_URL",
        "sandbox_url": "CONSOLE_SANDBOX_URL",
    }

    http_port: int = DEFAULT_PORT
    oauth_url: str = "http://127.0.0.1:8001"
    poller_url: str = "http://127.0.0.1:8002"
    orders_url: str = "http://127.0.0.1:8003"
    tenant_sync_url: str = "http://127.0.0.1:8004"
    # The Amazon sandbox's admin API ("send a buyer message"); empty: no such button.
    sandbox_url: str = "http://127.0.0.1:8900"
    # Where the sandbox relays buyer messages: the poller's MX (the same variables it reads).
    # MX_PORT unset: the sandbox's own default (SANDBOX_SMTP_PORT, 2525).
    mx_host: str = "127.0.0.1"
    mx_port: int | None = None
    # Lifetime of the JWTs minted per proxied request: short, they never leave the console.
    token_ttl_seconds: int = 300

    def service_urls(self) -> dict[str, str]:
        """``/api/<name>/…`` is proxied to ``<url>/api/…``."""
        return {
            "oauth": self.oauth_url,
            "orders": self.orders_url,
            "poller": self.poller_url,
            "tenant-sync": self.tenant_sync_url,
        }


class ConsoleRefused(SettingsError):
    """The console must not run where real sellers' data is."""


def load_console_settings(environ: Mapping[str, str]) -> ConsoleSettings:
    """The settings, or a refusal when production-like (checked first: the clearest reason)."""
    environment = environ.get(env_name(ConsoleSettings, "keybuzz_env"), "development")
    if environment in PRODUCTION_LIKE:
        raise ConsoleRefused(
            f"the development console mints JWTs for any tenant and is refused when "
            f"KEYBUZZ_ENV={environment}; it runs only in development and test"
        )
    return load_settings(ConsoleSettings, environ)
