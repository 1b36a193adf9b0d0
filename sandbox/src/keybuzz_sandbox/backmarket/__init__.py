"""The Back Market double: sellers' care folders (after-sales requests and their
messages) and orders on Back Market's EU platform, under /backmarket."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Back Market connector's settings for a sandbox at ``sandbox_url``: none yet (the
    shops, their tokens and the base URL are listed at GET /_sandbox/backmarket/shops)."""
    return {}
