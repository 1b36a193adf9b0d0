"""The eBay connector (docs/EBAY.md); its entry point (group ``keybuzz.connectors``)
names ``connector.CONNECTOR``."""
