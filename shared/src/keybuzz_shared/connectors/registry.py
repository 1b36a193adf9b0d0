"""Which connector serves a ``marketplace`` value: services choose behaviour here, by a
connection's, ticket's or order's ``marketplace``, never by naming a marketplace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


def marketplaces() -> tuple[str, ...]:
    """Every value a connector serves, as of now (a connector ``registered`` included): what
    a ``marketplace`` filter of an HTTP query may name."""
    return tuple(_CONNECTORS)


@contextmanager
def registered(connector: Connector) -> Iterator[Connector]:
    """Serves ``connector`` (a marketplace value no other connector serves) until the block
    ends: how a test shows that what reads the registry at request time (oauth's catalogue)
    serves a new marketplace without other edits. Routes built at start-up (a service's
    connection endpoints) see only the connectors registered before the service started."""
    if connector.marketplace in _CONNECTORS:
        raise ValueError(f"{connector.marketplace!r} already has a connector")
    _CONNECTORS[connector.marketplace] = connector
    try:
        yield connector
    finally:
        del _CONNECTORS[connector.marketplace]
