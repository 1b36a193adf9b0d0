"""The service's one NATS connection: nats-py's client, opened at start-up, drained at stop.

Everything that talks to NATS (consumers, the outbox relay, micro endpoints, redrive)
uses nats-py through this one client; no framework sits in between (README, "How it
is built": why FastStream is not in the runtime path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client

from keybuzz_shared.settings import CommonSettings

log = logging.getLogger(__name__)


def inbox_prefix(user: str) -> str:
    """Replies to a user's requests arrive under this prefix, which only it may read
    (nats_access.py gives each user this one)."""
    return f"_INBOX_{user}"


@dataclass(frozen=True)
class NatsAccess:
    """How a service proves who it is to NATS, and how it checks the server (TLS)."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    creds: str | None = None  # a .creds file (JWT + nkey seed): NATS accounts
    ca: str | None = None  # a private CA: TLS even on nats:// URLs, always verified

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> NatsAccess:
        return cls(
            settings.nats_user, settings.nats_password, settings.nats_creds, settings.nats_ca
        )

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.user and self.password:
            options |= {"user": self.user, "password": self.password}
        if self.user:  # replies arrive under the user's own prefix, the only one it may read
            options["inbox_prefix"] = inbox_prefix(self.user)
        if self.creds:
            options["user_credentials"] = self.creds
        if self.ca:
            options["tls"] = ssl.create_default_context(cafile=self.ca)
        return options


class NatsConnection:
    """One nats-py client with our reconnect policy and one log line per outage."""

    def __init__(
        self,
        servers: list[str],
        service: str,
        on_closed: Callable[[], Awaitable[None]],
        access: NatsAccess | None = None,
    ) -> None:
        self.servers = servers
        self.service = service
        self.access = access or NatsAccess()
        self.client = Client()
        self._on_closed = on_closed
        self._outage_logged = False

    @property
    def is_connected(self) -> bool:
        return self.client.is_connected

    async def connect(self) -> None:
        """Connect, retrying forever: /ready reports the outage meanwhile."""
        await self.client.connect(
            servers=self.servers,
            name=f"keybuzz-{self.service}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            allow_reconnect=True,
            error_cb=self._error,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            closed_cb=self._closed,
            # Replies come back under the service's own prefix, the only one its NATS user
            # may subscribe to (nats_access.py).
            **{"inbox_prefix": inbox_prefix(self.service), **self.access.options()},
        )

    async def close(self, drain_seconds: float = 3.0) -> None:
        """Drain (finish in-flight requests and acks), then make sure the client is closed.

        A server that is gone or frozen cannot be drained: the client is closed anyway,
        so none of its tasks outlives the service.
        """
        if self.client.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.drain(), drain_seconds)
        if not self.client.is_closed:
            await self.client.close()

    async def _error(self, error: Exception) -> None:
        # nats-py reports every failed reconnect attempt (once a second): one warning per
        # outage, the rest at debug level.
        level = logging.DEBUG if self._outage_logged else logging.WARNING
        self._outage_logged = True
        log.log(level, "NATS connection error", extra={"error": f"{type(error).__name__}: {error}"})

    async def _disconnected(self) -> None:
        if not self.client.is_closed:
            log.warning("NATS disconnected; reconnecting")

    async def _reconnected(self) -> None:
        self._outage_logged = False
        # The parsed URL itself: the formatter masks its password (user:password@ in NATS_URL).
        log.info("NATS reconnected", extra={"server": self.client.connected_url})

    async def _closed(self) -> None:
        await self._on_closed()
