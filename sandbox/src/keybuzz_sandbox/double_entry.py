"""What a double's entry point names (group ``keybuzz.doubles``, read by ``doubles.py``):
apart, so that a double's package imports it without loading the others."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

ServiceEnv = Callable[[str], dict[str, str]]


def _none(*_: Any) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Double:
    """One double: ``routes(sandbox)`` its route handlers (mounted in the sandbox's app),
    ``drivers()`` its conformance drivers by marketplace value; both imported when asked,
    so that reading a double's settings loads nothing else of it."""

    name: str
    service_env: ServiceEnv
    routes: Callable[[Sandbox], Sequence[Any]] = lambda _: ()
    # Its ``conformance.ShopDriver``s (typed loosely: the conformance module reads the doubles).
    drivers: Callable[[], Mapping[str, Any]] = _none
