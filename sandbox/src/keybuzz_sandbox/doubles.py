"""The marketplace doubles of the sandbox, each found by its entry point (group
``keybuzz.doubles``, as connectors are found by theirs): a ``Double`` says the settings that
point a service at it (``service_env``), the routes it adds to the sandbox's app and its
conformance drivers. The dev stack, the sandbox's app and the conformance suite ask here,
so none of them names a double; a new double is a package with its ``DOUBLE`` and a line
in the sandbox's ``pyproject.toml``."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from keybuzz_sandbox.double_entry import Double

GROUP = "keybuzz.doubles"


@functools.cache
def doubles() -> dict[str, Double]:
    """Every installed double by name, in its entry points' order: read when first asked,
    never on import (a double's package imports this package's modules)."""
    found: dict[str, Double] = {}
    for point in entry_points(group=GROUP):
        double = point.load()
        if not isinstance(double, Double) or double.name != point.name:
            raise TypeError(f"entry point {point.name!r} of {GROUP} is not its Double")
        found[point.name] = double
    return found


def service_env(sandbox_url: str) -> dict[str, str]:
    """Every double's settings for services, for a sandbox at ``sandbox_url``; two doubles
    setting one variable is a mistake, refused here."""
    env: dict[str, str] = {}
    for name, double in doubles().items():
        settings = double.service_env(sandbox_url)
        if clash := sorted(env.keys() & settings.keys()):
            raise ValueError(f"double {name!r} sets {', '.join(clash)}, set by another double")
        env.update(settings)
    return env
