"""The one place oauth's ports are assembled: the PostgreSQL store on the service's pool
and units of work, Vault through the service's client, the LWA client and Fnac's API."""

from __future__ import annotations

from datetime import UTC, datetime

from keybuzz_shared.connectors.amazon import LwaClient
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_oauth.adapters import FnacShops, VaultCredentials
from keybuzz_oauth.ports import OauthPorts
from keybuzz_oauth.settings import OauthSettings
from keybuzz_oauth.store import PostgresOauthStore

OauthRuntime = Runtime[OauthSettings]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def assemble(runtime: OauthRuntime) -> None:
    """``on_startup``: before the consumers subscribe, so the first event delivered finds the ports."""
    settings = runtime.settings
    runtime.provide(
        OauthPorts(
            connections=PostgresOauthStore(runtime.pool),
            unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresOauthStore),
            vault=VaultCredentials(runtime.vault, settings.amazon_app_source),
            lwa=LwaClient(settings.lwa_endpoint, cacert=settings.lwa_cacert),
            shops=FnacShops(settings.fnac_api_url),
            clock=utc_now,
            settings=settings,
        )
    )


async def disassemble(runtime: OauthRuntime) -> None:
    """``on_shutdown``: closes the LWA and Fnac clients (start-up may have failed before
    making them)."""
    ports = runtime.components.get(OauthPorts)
    if isinstance(ports, OauthPorts) and isinstance(ports.lwa, LwaClient):
        await ports.lwa.aclose()
    if isinstance(ports, OauthPorts) and isinstance(ports.shops, FnacShops):
        await ports.shops.aclose()


def ports_of(runtime: OauthRuntime) -> OauthPorts:
    """The assembled ports (``LookupError`` before start-up)."""
    return runtime.component(OauthPorts)
