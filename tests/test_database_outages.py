"""A database that cannot be reached or connected to is an outage, never poison.

Stopped or cut, the database already held events (tests/test_event_consumption.py).
Here it is up but refuses connections (``ALTER DATABASE … ALLOW_CONNECTIONS false``,
SQLSTATE 55000): before the fix that dead-lettered the event after its attempts and it
was never applied. Now it is held for as long as the refusal lasts, then applied once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import asyncpg
import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_shared.errors import is_outage

from tests.test_event_consumption import (
    archived,
    publish_all,
    recording_impatient_consumer,
    rows,
    start,
)

E = asyncpg.exceptions


@pytest.mark.parametrize(
    "error",
    [
        E.ObjectNotInPrerequisiteStateError('database "x" is not currently accepting connections'),
        E.InvalidCatalogNameError('database "x" does not exist'),
        E.InvalidPasswordError('password authentication failed for user "keybuzz"'),
        E.TooManyConnectionsError("sorry, too many clients already"),
        E.AdminShutdownError("terminating connection due to administrator command"),
        E.CannotConnectNowError("the database system is starting up"),
        E.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_cannot_reach_or_connect_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        E.ObjectNotInPrerequisiteStateError('currval of sequence "s" is not yet defined'),
        E.UniqueViolationError("duplicate key value violates unique constraint"),
        E.UndefinedTableError('relation "nope" does not exist'),
        ValueError("bad input"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_mistake_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def _held_count(metrics: str, consumer: str) -> float:
    pattern = (
        rf'keybuzz_events_total{{[^}}]*consumer="{consumer}"[^}}]*outcome="held"[^}}]*}} (\S+)'
    )
    return sum(float(value) for value in re.findall(pattern, metrics))


async def test_a_database_closed_to_connections_holds_the_event(
    start_service, private_nats, make_database
):
    url = await make_database("refusing")
    database = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")

    register = recording_impatient_consumer("refused")
    service = await start(start_service, private_nats, register, DATABASE_URL=url)
    try:
        async with service.client() as http:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
            await publish_all(service.runtime.js, [archived("patient", 1)])

            async def held_past_the_limit() -> bool:
                metrics = (await http.get("/metrics")).text
                return _held_count(metrics, "probe-refused") > 2  # more tries than max_deliveries

            await eventually(held_past_the_limit)
            assert (await http.get("/ready")).status_code == 503
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            [row] = await rows(service.runtime.pool, 1, within=60)
        assert row["tenant_id"] == "patient"
        info = await service.runtime.js.stream_info("DEADLETTER")
        assert info.state.messages == 0
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
