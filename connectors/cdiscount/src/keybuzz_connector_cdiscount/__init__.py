"""The Cdiscount connector: Octopia's seller API v2 behind KeyBuzz's connector seam
(docs/CDISCOUNT.md); ``connectors()`` is the entry point the registry loads (group
``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_cdiscount.connector import CONNECTOR
from keybuzz_connector_cdiscount.settings import CDISCOUNT

__all__ = ["CDISCOUNT", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
