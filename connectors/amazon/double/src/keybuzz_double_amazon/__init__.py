"""What points a service at the Amazon double (LWA, Seller Central consent, SP-API), whose
modules are the sandbox's own top-level ones."""

from __future__ import annotations

from keybuzz_sandbox.double_entry import Double


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Amazon connector's settings for a sandbox at ``sandbox_url``."""
    return {
        "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox_url,
        "SELLER_CENTRAL_URL": sandbox_url,
    }


# Amazon's routes are the sandbox's own (app.py): the first double, before doubles were
# packages; it has no shop-API conformance driver (its mail relay has its own tests).
DOUBLE = Double("amazon", service_env)
