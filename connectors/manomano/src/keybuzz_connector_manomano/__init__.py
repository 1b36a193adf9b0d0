"""The ManoMano connector: buyers' mails through ManoMano's relay, replies by mail, orders
from the partner API (docs/MANOMANO.md); ``connectors()`` is the entry point the registry
loads (group ``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_manomano.connector import CONNECTOR
from keybuzz_connector_manomano.settings import MANOMANO

__all__ = ["MANOMANO", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
