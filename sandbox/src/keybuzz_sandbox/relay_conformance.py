"""How the conformance suite's mail-relay side (tests/conformance/test_mail_relays.py)
drives each relay's double, by marketplace value: where its relay takes replies and
sends its bounces, a buyer's mail sent through it to an inbound address, an address it
takes replies from and one reply it refuses, what reached a buyer's thread. A double
joins by naming its drivers in its ``Double`` (``relay_drivers_at``); a registered
connector with a mail relay and no driver fails the suite.

Drivers speak to a running sandbox over HTTP (its admin endpoints), as a test does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from keybuzz_sandbox.doubles import doubles


@dataclass(frozen=True)
class RelaySent:
    """A buyer's mail the relay sent: its Message-ID, the buyer's alias (where a reply
    goes), the order it names."""

    message_id: str
    alias: str
    order_id: str


class RelayDriver(Protocol):
    async def reply_port(self, sandbox: httpx.AsyncClient) -> int:
        """The port the relay takes replies on (SMTP)."""
        ...

    async def bounce_to(self, sandbox: httpx.AsyncClient, host: str, port: int) -> None:
        """Where its bounces go (the poller's MX)."""
        ...

    async def send(self, sandbox: httpx.AsyncClient, to: str, mx_port: int) -> RelaySent:
        """A buyer's mail through the relay to inbound address ``to``, by the MX on
        ``mx_port``."""
        ...

    async def reply_sender(self, sandbox: httpx.AsyncClient) -> str:
        """An address the relay takes a seller's replies from."""
        ...

    async def refusing(self, sandbox: httpx.AsyncClient, alias: str) -> str:
        """The sender address of a reply to ``alias`` that the relay refuses (bounces),
        having made it refuse where the refusal is the buyer's side."""
        ...

    async def replies(self, sandbox: httpx.AsyncClient, alias: str) -> list[str]:
        """The texts of the replies that reached the buyer's thread."""
        ...


def relay_drivers() -> dict[str, RelayDriver]:
    return {m: d for double in doubles().values() for m, d in double.relay_drivers().items()}


def relay_driver_for(marketplace: str) -> RelayDriver | None:
    return relay_drivers().get(marketplace)
