"""The one place oauth's ports are assembled: the PostgreSQL store on the service's pool
and units of work, Vault through the service's client, the redirect connector's Vault
secrets and token endpoint, and the shops' API."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from keybuzz_shared.connectors.registry import PerMarketplace
from keybuzz_shared.connectors.seam import ShopApiSettings
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_oauth.adapters import ShopVerifier, VaultCredentials
from keybuzz_oauth.connections import redirect_marketplaces
from keybuzz_oauth.flow import redirect_flow
from keybuzz_oauth.ports import OauthPorts, RedirectPorts
from keybuzz_oauth.settings import OauthSettings
from keybuzz_oauth.store import PostgresOauthStore

log = logging.getLogger(__name__)

OauthRuntime = Runtime[OauthSettings]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _flow_ports(runtime: OauthRuntime, marketplace: str) -> RedirectPorts:
    flow, flow_settings = redirect_flow(marketplace), runtime.settings.redirect_flow(marketplace)
    return RedirectPorts(
        flow.vault(runtime.vault, flow_settings.app_source), flow.code_exchange(flow_settings)
    )


async def assemble(runtime: OauthRuntime) -> None:
    """``on_startup``: before the consumers subscribe, so the first event delivered finds the ports."""
    settings = runtime.settings
    runtime.provide(
        OauthPorts(
            connections=PostgresOauthStore(runtime.pool),
            unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresOauthStore),
            vault=VaultCredentials(runtime.vault),
            shops=ShopVerifier(_shop_apis(settings), inside_allowed=not settings.is_production),
            clock=utc_now,
            settings=settings,
            flows={m: _flow_ports(runtime, m) for m in redirect_marketplaces()},
        )
    )


def _shop_apis(settings: OauthSettings) -> Mapping[str, ShopApiSettings]:
    """Each shop marketplace's API settings, its connector's, made when first asked (a
    marketplace served after start-up included); one without settings of its own has its
    shops refused as not checked here (``ShopVerifier``)."""
    return PerMarketplace(lambda c: settings.shop_api(c.marketplace))


async def disassemble(runtime: OauthRuntime) -> None:
    """``on_shutdown``: closes the token endpoint's and the shops' clients (start-up may
    have failed before making them)."""
    ports = runtime.components.get(OauthPorts)
    if not isinstance(ports, OauthPorts):
        return
    for flow in ports.flows.values():
        await flow.code_exchange.aclose()
    if isinstance(ports.shops, ShopVerifier):
        await ports.shops.aclose()


def ports_of(runtime: OauthRuntime) -> OauthPorts:
    """The assembled ports (``LookupError`` before start-up)."""
    return runtime.component(OauthPorts)
