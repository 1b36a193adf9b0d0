"""The Kaufland connector (docs/KAUFLAND.md); ``connectors()``: the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_kaufland.connector import CONNECTOR, KAUFLAND

__all__ = ["KAUFLAND", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
