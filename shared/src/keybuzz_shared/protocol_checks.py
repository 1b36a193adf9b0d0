"""``isinstance`` against a ``runtime_checkable`` Protocol, answered once a class.

Python 3.11 answers such a check by walking the protocol's members at every call: 25–55 µs
each on the project's 2 cores under load (docs/BENCHMARKS.md, `bench_poll_floor`), and a
shop's poll asks one a call (its requester's signing), one as its session opens (its
redirect flow's kept app) and, with a daily allowance, three more a page (its session's
counts and limits). The protocols asked on that path name methods only,
which an instance has from its class: the answer is its class's, kept per (class,
protocol), as many entries as the process has classes that were asked about.
"""

from __future__ import annotations

from typing import Any

_ANSWERS: dict[tuple[type, type], bool] = {}


def conforms(value: object, protocol: type[Any]) -> bool:
    """``isinstance(value, protocol)`` for a protocol of methods only, its class's answer
    kept (an attribute set on one instance alone does not change it)."""
    key = (type(value), protocol)
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = _ANSWERS[key] = isinstance(value, protocol)
    return answer
