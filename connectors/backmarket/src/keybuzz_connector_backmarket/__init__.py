"""The Back Market connector (docs/BACKMARKET.md); ``connectors()`` is the entry point the
registry loads (group ``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_backmarket.connector import CONNECTOR
from keybuzz_connector_backmarket.settings import BACKMARKET

__all__ = ["BACKMARKET", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
