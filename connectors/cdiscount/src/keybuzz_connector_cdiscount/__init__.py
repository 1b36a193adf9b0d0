"""The Cdiscount connector: Octopia's seller API v2 behind KeyBuzz's connector seam
(docs/CDISCOUNT.md); ``connectors()`` is the entry point the registry loads (group
``keybuzz.connectors``)."""

from functools import cache

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_cdiscount.connector import CdiscountConnector
from keybuzz_connector_cdiscount.names import CDISCOUNT

__all__ = ["CDISCOUNT", "connectors"]


# The registry calls this again while services run: the same objects each time.
@cache
def connectors() -> tuple[Connector, ...]:
    return (CdiscountConnector(),)
