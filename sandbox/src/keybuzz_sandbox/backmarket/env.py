"""What points a service at the double (its package's ``service_env``)."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Back Market connector's settings for a sandbox at ``sandbox_url``: its EU
    platform (the shops and their tokens are listed at GET /_sandbox/backmarket/shops)."""
    return {"BACKMARKET_EU_URL": f"{sandbox_url}/backmarket"}
