"""The Kaufland connector (docs/KAUFLAND.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""

from keybuzz_connector_kaufland.connector import KAUFLAND

__all__ = ["KAUFLAND"]
