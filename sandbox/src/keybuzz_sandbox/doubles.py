"""The marketplace doubles of the sandbox, each found by its entry point (group
``keybuzz.doubles``, as connectors are found by theirs): a ``Double`` says the settings that
point a service at it (``service_env``), the routes it adds to the sandbox's app, its
conformance drivers and, for a mail relay, the domains it takes replies for (the reply
front's ``reply_relays``). The dev stack, the sandbox's app, its reply front and the
conformance suite ask here, so none of them names a double; a new double is a package with
its ``DOUBLE`` and a line in the sandbox's ``pyproject.toml``."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

from keybuzz_sandbox.double_entry import Double

GROUP = "keybuzz.doubles"


# Doubles registered at run time (``registered``), after the installed ones.
_added: dict[str, Double] = {}


def doubles() -> dict[str, Double]:
    """Every double by name: the installed ones in their entry points' order, then those
    registered at run time."""
    return {**_installed(), **_added} if _added else _installed()


@contextlib.contextmanager
def registered(double: Double) -> Iterator[Double]:
    """``double`` served as an installed one until the block ends, as its entry point
    would (a test's throwaway double): an app made within mounts its routes, and the
    conformance drivers include its. A second double of its name is refused."""
    if double.name in doubles():
        raise ValueError(f"a double named {double.name!r} is already served")
    _added[double.name] = double
    try:
        yield double
    finally:
        del _added[double.name]


@functools.cache
def _installed() -> dict[str, Double]:
    """The installed doubles: read when first asked, never on import (a double's package
    imports this package's modules)."""
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


def reply_relays() -> dict[str, Double]:
    """The double whose relay takes sellers' replies for each recipient domain (its
    ``reply_domains``, matched in lower case); two doubles claiming one domain is a
    mistake, refused here."""
    relays: dict[str, Double] = {}
    for name, double in doubles().items():
        for domain in (d.lower() for d in double.reply_domains):
            if domain in relays:
                raise ValueError(
                    f"double {name!r} takes replies for {domain}, as {relays[domain].name!r} does"
                )
            relays[domain] = double
    return relays


def served_doubles(names: tuple[str, ...] | None) -> dict[str, Double]:
    """The doubles named (every one for None); a name no double has is refused."""
    every = doubles()
    if names is None:
        return every
    if unknown := sorted(set(names) - every.keys()):
        raise ValueError(f"no double is named {', '.join(map(repr, unknown))}")
    return {name: every[name] for name in names}


def unknown_path_answer(served: dict[str, Double]) -> Callable[[], Any] | None:
    """The answer to a request no route takes, by the one double of ``served`` giving one
    (its ``unknown_path``); None: none does. Two giving one is a mistake, refused here."""
    answers = {name: d.unknown_path() for name, d in served.items() if d.unknown_path_at}
    if len(answers) > 1:
        raise ValueError(f"doubles {', '.join(sorted(answers))} each answer unknown paths")
    return next(iter(answers.values()), None)
