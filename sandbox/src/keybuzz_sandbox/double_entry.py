"""What a double's entry point names (group ``keybuzz.doubles``, read by ``doubles.py``):
apart, so that a double's package imports it without loading the others."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

ServiceEnv = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class Double:
    """One double: its name, the settings pointing a service at it, and where its routes
    (``module:function`` of the sandbox, mounted in its app) and its conformance drivers
    (``module:function`` returning them by marketplace value) are: imported when asked, so
    that reading a double's settings loads nothing else of it."""

    name: str
    service_env: ServiceEnv
    routes_at: str = ""
    drivers_at: str = ""

    def routes(self, sandbox: Sandbox) -> Sequence[Any]:
        """Its route handlers on ``sandbox``."""
        return _loaded(self.routes_at)(sandbox) if self.routes_at else ()

    def drivers(self) -> Mapping[str, Any]:
        """Its ``conformance.ShopDriver``s by marketplace value (typed loosely: the
        conformance module reads the doubles)."""
        return _loaded(self.drivers_at)() if self.drivers_at else {}


def _loaded(where: str) -> Callable[..., Any]:
    module, _, name = where.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found
