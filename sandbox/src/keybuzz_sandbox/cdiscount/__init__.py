"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders)."""
