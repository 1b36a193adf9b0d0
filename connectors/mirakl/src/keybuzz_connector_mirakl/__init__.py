"""The Mirakl connector: every operator of the catalogue (catalogue.py) as a marketplace of
its own behind KeyBuzz's connector seam (docs/MIRAKL.md); ``connectors()`` is the entry
point the registry loads (group ``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_mirakl.catalogue import operators
from keybuzz_connector_mirakl.connector import connector_of

__all__ = ["connectors"]

# One connector per catalogue entry's content: an unchanged entry gives the same object at
# every call, so that what services keep by connector (sessions, clients) holds.
_made: dict[bytes, Connector] = {}


def connectors() -> tuple[Connector, ...]:
    """One connector per operator of the catalogue as it reads now."""
    served = []
    for operator in operators():
        key = operator.key
        if key not in _made:
            _made[key] = connector_of(operator)
        served.append(_made[key])
    return tuple(served)
