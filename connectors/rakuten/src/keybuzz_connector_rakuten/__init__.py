"""The Rakuten France connector: Rakuten's seller web services (items to do, their messages
and Rakuten's mails, replies, current sales) behind KeyBuzz's connector seam
(docs/RAKUTEN.md); ``connectors()`` is the entry point the registry loads (group
``keybuzz.connectors``)."""

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_rakuten.connector import CONNECTOR
from keybuzz_connector_rakuten.settings import RAKUTEN

__all__ = ["RAKUTEN", "connectors"]


def connectors() -> tuple[Connector, ...]:
    return (CONNECTOR,)
