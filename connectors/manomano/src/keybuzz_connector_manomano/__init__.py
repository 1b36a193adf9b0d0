"""The ManoMano connector (docs/MANOMANO.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""

from keybuzz_connector_manomano.settings import MANOMANO

__all__ = ["MANOMANO"]
