"""The Mirakl connector: every operator of the catalogue a marketplace of its own
(docs/MIRAKL.md); ``connectors()`` is the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_mirakl.catalogue import CATALOGUE
from keybuzz_connector_mirakl.connector import connector_of

__all__ = ["connectors"]


def connectors() -> tuple[Connector, ...]:
    return CATALOGUE.each(connector_of)
