"""The Kaufland connector (docs/KAUFLAND.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""
