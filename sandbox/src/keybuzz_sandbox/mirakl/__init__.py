"""The Mirakl double: several operators' instances of Mirakl's seller API (threads,
messages, orders, shop statistics), each under /mirakl/<operator>."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Mirakl connector's settings for a sandbox at ``sandbox_url``: none yet (the
    operators' base URLs are listed at GET /_sandbox/mirakl/operators)."""
    return {}
