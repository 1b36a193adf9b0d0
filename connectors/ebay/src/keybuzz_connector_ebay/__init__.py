"""The eBay connector (docs/EBAY.md); ``connectors()`` is the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_ebay.connector import CONNECTOR


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
