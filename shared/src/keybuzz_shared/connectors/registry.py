"""Which connector serves a ``marketplace`` value: services choose behaviour here, by a
connection's, ticket's or order's ``marketplace``, never by naming a marketplace."""

from __future__ import annotations

from keybuzz_shared.connectors.amazon.connector import AmazonConnector
from keybuzz_shared.connectors.fnac.connector import FnacConnector
from keybuzz_shared.connectors.names import AMAZON, DARTY, FNAC
from keybuzz_shared.connectors.seam import Connector

_CONNECTORS: dict[str, Connector] = {
    AMAZON: AmazonConnector(),
    FNAC: FnacConnector(FNAC, "Fnac"),
    DARTY: FnacConnector(DARTY, "Darty"),
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


def connectors() -> list[Connector]:
    """Every connector, in MARKETPLACES order (FNAC and DARTY are two, one class)."""
    return list(_CONNECTORS.values())
