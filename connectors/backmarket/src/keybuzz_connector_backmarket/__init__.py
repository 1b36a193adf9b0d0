"""The Back Market connector (docs/BACKMARKET.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""

from keybuzz_connector_backmarket.settings import BACKMARKET

__all__ = ["BACKMARKET"]
