"""The ManoMano connector (docs/MANOMANO.md); ``connectors()`` is the registry's entry point."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_manomano.connector import CONNECTOR
from keybuzz_connector_manomano.settings import MANOMANO

__all__ = ["MANOMANO", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
