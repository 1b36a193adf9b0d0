"""The Fnac/Darty double: Fnac's seller API (XML over HTTPS), Darty's shops on the same API."""

from __future__ import annotations


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Fnac connector's settings for a sandbox at ``sandbox_url`` (Darty's shops too)."""
    return {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
