"""The Kaufland connector: Kaufland's Seller API v2 (tickets, replies, order units) behind
KeyBuzz's connector seam (docs/KAUFLAND.md); ``connectors()`` is the entry point the
registry loads (group ``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_kaufland.connector import CONNECTOR
from keybuzz_connector_kaufland.settings import KAUFLAND

__all__ = ["KAUFLAND", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
