"""What points a service at the double (its package's ``service_env``)."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Cdiscount connector's settings for a sandbox at ``sandbox_url``: Octopia's API
    and its token endpoint, both on the sandbox's port under /octopia."""
    return {
        "CDISCOUNT_API_URL": f"{sandbox_url}/octopia/seller/v2/",
        "CDISCOUNT_AUTH_URL": f"{sandbox_url}/octopia/auth/realms/maas/protocol/openid-connect/token",
    }
