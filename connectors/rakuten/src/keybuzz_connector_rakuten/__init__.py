"""The Rakuten France connector (docs/RAKUTEN.md); ``connectors()``: the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_rakuten.connector import CONNECTOR
from keybuzz_connector_rakuten.settings import RAKUTEN

__all__ = ["RAKUTEN", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
