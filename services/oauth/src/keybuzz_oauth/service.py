"""How the oauth service is assembled."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from keybuzz_shared.connectors.seam import AppNotConfigured
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.vault import VaultError

from keybuzz_oauth import canonical_shops, credential_connect, events, flow
from keybuzz_oauth.app import CALLBACK_PATHS, ROUTES
from keybuzz_oauth.bootstrap import assemble, disassemble, ports_of
from keybuzz_oauth.connections import redirect_marketplaces
from keybuzz_oauth.errors import CredentialsUnavailable
from keybuzz_oauth.micro import micro_endpoints
from keybuzz_oauth.ports import OauthPorts
from keybuzz_oauth.settings import OauthSettings

log = logging.getLogger(__name__)


class _HideCallbackQuery(logging.Filter):
    """The access log would print the state and the code from the callback URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            for path in CALLBACK_PATHS:
                if args[2].startswith(path + "?"):
                    record.args = (*args[:2], path + "?[REDACTED]", *args[3:])
        return True


_ACCESS_LOG_FILTER = _HideCallbackQuery()


async def _hide_callback_query_in_access_log(runtime: Runtime[Any]) -> None:
    """Before the first request: the callback's query string holds the state and the code.

    The filter is one object, so a process starting the service twice adds it once.
    """
    logging.getLogger("uvicorn.access").addFilter(_ACCESS_LOG_FILTER)


async def _check_app_credentials(runtime: Runtime[OauthSettings]) -> None:
    """Say at start-up, not at the first seller's click, that an app is not configured."""
    for marketplace in redirect_marketplaces():
        try:
            app = await flow.app_credentials(ports_of(runtime), marketplace)
        except (AppNotConfigured, VaultError):
            continue  # already logged with the Vault path and the reason
        log.info(
            "app credentials loaded",
            extra={
                "marketplace": marketplace,
                "app_source": app.source,
                "application_id": app.application_id,
                "draft": app.draft,
            },
        )


async def _canonical_shop_ids(runtime: Runtime[OauthSettings]) -> None:
    """Shop ids stored in another spelling than their connector's canonical one are brought
    to it; those that collide with another connection's shop are reported, both kept."""
    await canonical_shops.canonicalise_shop_ids(ports_of(runtime))


async def _end_duplicate_connections(runtime: Runtime[OauthSettings]) -> None:
    """Connections a migration ended (their shop was held elsewhere first) are said at
    start-up: their key leaves Vault and their consumers delete what came through them."""
    try:
        await credential_connect.end_duplicates(ports_of(runtime))
    except CredentialsUnavailable:
        log.error("connections ended as duplicates not finished: Vault refused; next start")


DEFINITION = ServiceDefinition(
    name="oauth",
    description=("Connect a seller's marketplace account and keep its credentials in Vault"),
    settings_type=OauthSettings,
    migrations=Path(__file__).parent / "migrations",
    route_handlers=ROUTES,
    register_subscribers=events.register,
    on_startup=[
        _hide_callback_query_in_access_log,
        assemble,
        _check_app_credentials,
        _canonical_shop_ids,
        _end_duplicate_connections,
    ],
    on_shutdown=[disassemble],
    micro_endpoints=micro_endpoints,
    dependencies={"ports": OauthPorts},
)
