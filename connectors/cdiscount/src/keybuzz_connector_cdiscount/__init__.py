"""The Cdiscount connector: Octopia's seller API v2 behind KeyBuzz's connector seam
(docs/CDISCOUNT.md). The registry finds it through the ``keybuzz.connectors`` entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keybuzz_shared.connectors.seam import Connector

CDISCOUNT = "CDISCOUNT"  # the marketplace value of Cdiscount's shops, tickets and orders


def connectors() -> tuple[Connector, ...]:
    """The connectors of this package (the entry point's): Cdiscount's."""
    from keybuzz_connector_cdiscount.connector import CdiscountConnector

    return (CdiscountConnector(),)
