"""The Rakuten France connector (docs/RAKUTEN.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""

from keybuzz_connector_rakuten.settings import RAKUTEN

__all__ = ["RAKUTEN"]
