"""What points a service at the double (its package's ``service_env``)."""

from __future__ import annotations

import json


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Mirakl connector's catalogue for a sandbox at ``sandbox_url``: each seeded
    operator at its instance on the double, with the double's frequencies (the packaged
    catalogue's production entries of these codes are replaced; the others stay)."""
    from .double import FREQUENCIES
    from .operators import OPERATORS

    catalogue = [
        {
            "code": spec.code,
            "name": spec.name,
            "baseUrl": f"{sandbox_url.rstrip('/')}/mirakl/{spec.code}",
            "responseHours": 24,
            "frequencies": FREQUENCIES,
            "source": "sandbox",
        }
        for spec in OPERATORS
    ]
    return {"MIRAKL_CATALOGUE": json.dumps(catalogue)}
