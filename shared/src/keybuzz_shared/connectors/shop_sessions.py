"""A shop's credentials as Vault keeps them, and the session made on them: what every
service that calls a shop API (the poller's polls and replies, orders) needs alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from keybuzz_shared.connectors.seam import Connector
from keybuzz_shared.vault import VaultClient

S = TypeVar("S")


async def stored_credentials(
    vault: VaultClient, connector: Connector, tenant_id: str
) -> dict[str, str] | None:
    """Every field of the connector's ``credential_fields`` as stored for the tenant's
    shop, or None when one is missing or empty."""
    stored = await vault.read(connector.credentials_path(tenant_id)) or {}
    fields = [f.name for f in connector.credential_fields]
    if not all(isinstance(stored.get(f), str) and stored[f] for f in fields):
        return None
    return {f: str(stored[f]) for f in fields}


class KeptSessions(Generic[S]):
    """One session per shop, made again only when the shop's credentials change (a
    session holds the marketplace's token: making one each call would log in each call)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[dict[str, str], S]] = {}

    def on(self, shop: str, credentials: dict[str, str], make: Callable[[], S]) -> S:
        """The shop's session on ``credentials``: the kept one, or ``make()``'s."""
        kept = self._kept.get(shop)
        if kept is None or kept[0] != credentials:
            kept = self._kept[shop] = (credentials, make())
        return kept[1]

    def last(self, shop: str) -> tuple[dict[str, str], S] | None:
        """The credentials and session the shop was last given, if any."""
        return self._kept.get(shop)
