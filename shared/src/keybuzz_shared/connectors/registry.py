"""Which connector serves a ``marketplace`` value: services choose behaviour here, by a
connection's, ticket's or order's ``marketplace``, never by naming a marketplace."""

from __future__ import annotations

from keybuzz_shared.connectors.fnac.connector import FnacConnector
from keybuzz_shared.connectors.seam import AMAZON, DARTY, FNAC, Connector

# Every value a ``marketplace`` column or event field may hold.
MARKETPLACES: tuple[str, ...] = (AMAZON, FNAC, DARTY)

_CONNECTORS: dict[str, Connector] = {
    # AMAZON: not behind the seam yet; its services call keybuzz_shared.amazon directly.
    # Its connector (OAUTH_REDIRECT) is registered here when it moves behind the seam.
    FNAC: FnacConnector(FNAC),
    DARTY: FnacConnector(DARTY),
}


class UnknownMarketplace(LookupError):
    """No connector serves this value (not a marketplace, or not behind the seam yet)."""

    def __init__(self, marketplace: str) -> None:
        known = ", ".join(sorted(_CONNECTORS))
        super().__init__(f"no connector for marketplace {marketplace!r} (connectors: {known})")
        self.marketplace = marketplace


def connector_for(marketplace: str) -> Connector:
    try:
        return _CONNECTORS[marketplace]
    except KeyError:
        raise UnknownMarketplace(marketplace) from None
