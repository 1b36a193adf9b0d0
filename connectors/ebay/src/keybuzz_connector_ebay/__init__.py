"""KeyBuzz's eBay connector (docs/EBAY.md): a seller connects by consenting on eBay's site,
its buyers' conversations and orders are read over eBay's REST APIs."""

from __future__ import annotations

from functools import cache

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_ebay.connector import CONNECTOR


@cache
def connectors() -> list[Connector]:
    """The registry's entry point (group ``keybuzz.connectors``)."""
    return [CONNECTOR]
