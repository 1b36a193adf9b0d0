"""The Mirakl connector: every operator of the catalogue (catalogue.py) as a marketplace of
its own behind KeyBuzz's connector seam (docs/MIRAKL.md); ``connectors()`` is the entry
point the registry loads (group ``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_mirakl.catalogue import CATALOGUE
from keybuzz_connector_mirakl.connector import connector_of

__all__ = ["connectors"]


def connectors() -> tuple[Connector, ...]:
    """One connector per operator of the catalogue as it reads now, the same object while
    its entry is unchanged."""
    return CATALOGUE.each(connector_of)
