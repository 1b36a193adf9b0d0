"""The Cdiscount connector (docs/CDISCOUNT.md); ``connectors()`` is the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_cdiscount.connector import CONNECTOR
from keybuzz_connector_cdiscount.settings import CDISCOUNT

__all__ = ["CDISCOUNT", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
