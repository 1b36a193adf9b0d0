"""The marketplace doubles of the sandbox, each listed once with ``service_env``: the
settings that point a service at it. The dev stack asks here, so it names no marketplace's
variable; a new double is a package with its ``service_env`` and a line below."""

from __future__ import annotations

from collections.abc import Callable

from keybuzz_sandbox import amazon, backmarket, cdiscount, fnac, mirakl

ServiceEnv = Callable[[str], dict[str, str]]

DOUBLES: dict[str, ServiceEnv] = {
    "amazon": amazon.service_env,
    "fnac": fnac.service_env,
    "cdiscount": cdiscount.service_env,
    "mirakl": mirakl.service_env,
    "backmarket": backmarket.service_env,
}


def service_env(sandbox_url: str) -> dict[str, str]:
    """Every double's settings for services, for a sandbox at ``sandbox_url``; two doubles
    setting one variable is a mistake, refused here."""
    env: dict[str, str] = {}
    for name, settings_of in DOUBLES.items():
        settings = settings_of(sandbox_url)
        if clash := sorted(env.keys() & settings.keys()):
            raise ValueError(f"double {name!r} sets {', '.join(clash)}, set by another double")
        env.update(settings)
    return env
