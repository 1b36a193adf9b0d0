"""Which connector serves a ``marketplace`` value: services choose behaviour here, by a
connection's, ticket's or order's ``marketplace``, never by naming a marketplace.

The connectors are the installed distributions' entry points of group
``keybuzz.connectors`` (each ``connectors/<name>/pyproject.toml`` declares one: a function
returning its connectors), loaded once, at the first question. Their order, which every
listing follows, is stable: entry points by name, then each one's connectors in the order
it returns them (docs/ARCHITECTURE.md, "Adding a marketplace")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from keybuzz_shared.connectors.seam import Connector

GROUP = "keybuzz.connectors"


class UnknownMarketplace(LookupError):
    """No connector serves this value (not a marketplace, or not behind the seam yet)."""

    def __init__(self, marketplace: str) -> None:
        known = ", ".join(sorted(_connectors()))
        super().__init__(f"no connector for marketplace {marketplace!r} (connectors: {known})")
        self.marketplace = marketplace


class ConnectorConflict(RuntimeError):
    """Two connectors claim one ``marketplace`` value: which serves it would be a guess."""


def load(found: Iterable[EntryPoint]) -> dict[str, Connector]:
    """The connectors of ``found`` (entry points of ``GROUP``) by marketplace value, in the
    registry's order; ConnectorConflict: two of them serve one value."""
    served: dict[str, Connector] = {}
    origin: dict[str, str] = {}
    for point in sorted(found, key=lambda p: (p.name, p.value)):
        declared: Callable[[], Iterable[Connector]] = point.load()
        for connector in declared():
            marketplace = connector.marketplace
            if marketplace in served:
                raise ConnectorConflict(
                    f"marketplace {marketplace!r} has two connectors: entry point "
                    f"{origin[marketplace]!r} and {point.name!r} ({point.value}) of group "
                    f"{GROUP!r}; uninstall one of them"
                )
            served[marketplace] = connector
            origin[marketplace] = f"{point.name} ({point.value})"
    return served


@cache
def _connectors() -> dict[str, Connector]:
    return load(entry_points(group=GROUP))


def connector_for(marketplace: str) -> Connector:
    try:
        return _connectors()[marketplace]
    except KeyError:
        raise UnknownMarketplace(marketplace) from None


def connectors() -> list[Connector]:
    """Every connector, in the registry's order (one class may serve several values)."""
    return list(_connectors().values())


def marketplaces() -> tuple[str, ...]:
    """Every value a connector serves, as of now (a connector ``registered`` included), in
    the registry's order: what a ``marketplace`` field or filter may name."""
    return tuple(_connectors())


@contextmanager
def registered(connector: Connector) -> Iterator[Connector]:
    """Serves ``connector`` (a marketplace value no other connector serves) until the block
    ends: how a test shows that what reads the registry at request time (oauth's catalogue)
    serves a new marketplace without other edits. Routes built at start-up (a service's
    connection endpoints) see only the connectors registered before the service started."""
    served = _connectors()
    if connector.marketplace in served:
        raise ConnectorConflict(f"{connector.marketplace!r} already has a connector")
    served[connector.marketplace] = connector
    try:
        yield connector
    finally:
        del served[connector.marketplace]
