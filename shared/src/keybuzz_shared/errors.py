"""Failures the frame treats alike whichever service raises them.

A ``DependencyUnavailable`` (database, Vault, NATS or a marketplace down or refusing
for now) is not the event's fault: the consumer holds the event and retries it
for as long as the dependency is down, instead of counting it towards the
dead-letter limit (docs/SECURITY.md, "An outage is not a poison message").
"""

from __future__ import annotations

import asyncio
import functools


class DependencyUnavailable(Exception):
    """A dependency is down or overloaded; the same work will succeed once it is back."""


@functools.cache
def _outages() -> tuple[type[BaseException], ...]:
    """What asyncpg, nats-py and httpx raise when the other side is down or unreachable.

    Imported at the first check: a process that raises ``DependencyUnavailable`` without
    talking to any of them (a mail-parse worker, through the seam's errors) would otherwise
    import the three (~0.25 s of CPU); the services import them anyway.
    """
    import asyncpg
    import httpx
    import nats.errors

    return (
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


# PostgreSQL states that mean "cannot reach or cannot connect to the database now",
# by SQLSTATE: 08 connection exceptions, 28 the login refused (credentials being
# rotated), 3D000 no such database, 53 insufficient resources (too many connections,
# disk full, out of memory), 57P operator intervention (shutdown, crash, starting up).
_POSTGRES_OUTAGE_STATES = ("08", "28", "3D000", "53", "57P")
# 55000 is "object not in prerequisite state", which is also raised for mistakes in a
# query; it is an outage only as the refusal of a database closed to connections
# (ALTER DATABASE … ALLOW_CONNECTIONS false).
_CLOSED_TO_CONNECTIONS = ("55000", "not currently accepting connections")


def _postgres_outage(exc: BaseException) -> bool:
    import asyncpg  # imported by _outages() already (see there)

    state = getattr(exc, "sqlstate", None)
    if not isinstance(exc, asyncpg.PostgresError) or not isinstance(state, str):
        return False
    if state.startswith(_POSTGRES_OUTAGE_STATES):
        return True
    code, words = _CLOSED_TO_CONNECTIONS
    return state == code and words in str(exc)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means "a dependency is down"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _outages()) or _postgres_outage(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
