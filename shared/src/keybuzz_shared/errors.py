"""Failures the frame treats alike whichever service raises them.

A ``DependencyUnavailable`` (database, Vault, NATS or Amazon down or refusing
for now) is not the event's fault: the consumer holds the event and retries it
for as long as the dependency is down, instead of counting it towards the
dead-letter limit (docs/SECURITY.md, "An outage is not a poison message").
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import nats.errors


class DependencyUnavailable(Exception):
    """A dependency is down or overloaded; the same work will succeed once it is back."""


# What asyncpg, nats-py and httpx raise when the other side is down or unreachable.
_OUTAGES: tuple[type[BaseException], ...] = (
    DependencyUnavailable,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # e.g. the pool's connection was closed under us
    nats.errors.ConnectionClosedError,
    nats.errors.NoRespondersError,
    nats.errors.TimeoutError,
    httpx.TransportError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means "a dependency is down"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
