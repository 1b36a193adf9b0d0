"""The Cdiscount connector (docs/CDISCOUNT.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""

from keybuzz_connector_cdiscount.settings import CDISCOUNT

__all__ = ["CDISCOUNT"]
