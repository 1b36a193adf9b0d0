"""What points a service at the double (its package's ``service_env``)."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Fnac connector's settings for a sandbox at ``sandbox_url`` (Darty's shops too)."""
    return {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
