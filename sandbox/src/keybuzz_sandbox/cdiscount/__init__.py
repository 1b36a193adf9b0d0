"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders)."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Cdiscount connector's settings for a sandbox at ``sandbox_url``."""
    return {}
