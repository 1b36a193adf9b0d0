"""Wake-ups: PostgreSQL LISTEN on the channel the MX's ``store.mark_delivered`` NOTIFYs.

Every polling instance listens on a connection of its own (not the pool's: a listening
connection is never released) and wakes its scheduler, which claims the due tenants at
once. A lost connection is re-opened with back-off; on every (re)connection the scheduler
is woken too, for the notifications it may have missed meanwhile. A wake-up that never
arrives only costs time: the tenant stays due in PostgreSQL, and the scheduler's next
tick claims it (docs/POLLER.md, "Push on delivery").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay

from keybuzz_poller.polling.store import DUE_CHANNEL

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0  # how often a quiet connection is checked for being closed
RECONNECT_BASE_SECONDS = 0.5
RECONNECT_CAP_SECONDS = 30.0
APPLICATION_NAME = "keybuzz-poller-due-listener"  # in pg_stat_activity
LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DueListener(BackgroundLoop):
    """Sets ``wake`` whenever a tenant is marked due, until stopped."""

    name = "poller-due-listener"

    def __init__(self, database_url: str, wake: asyncio.Event) -> None:
        self.database_url = database_url
        self.wake = wake

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                connection = await asyncpg.connect(
                    self.database_url, server_settings={"application_name": APPLICATION_NAME}
                )
            except LOST as exc:
                if attempt == 0:
                    log.warning("due listener disconnected", extra={"error": repr(exc)})
                await asyncio.sleep(
                    backoff_delay(
                        attempt, base=RECONNECT_BASE_SECONDS, cap=RECONNECT_CAP_SECONDS, jitter=True
                    )
                )
                attempt += 1
                continue
            attempt = 0
            try:
                await self._listen(connection)
            except LOST as exc:
                log.warning("due listener disconnected", extra={"error": repr(exc)})
            finally:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _connection: closed.set())
        await connection.add_listener(DUE_CHANNEL, self._notified)
        self.wake.set()  # what was marked due while we were not listening
        while not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), CHECK_SECONDS)
                return
            await connection.execute("SELECT 1")  # a silent dead peer shows up here

    def _notified(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        self.wake.set()
