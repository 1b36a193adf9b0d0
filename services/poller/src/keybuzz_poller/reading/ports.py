"""What reading uses, as ports: the mailbox polls read from, the parse of its mails, each
folder's read cursor, and a unit of work whose writes include the cursor (the caller's
handler writes the rest in the same transaction: reading does not know what).

The adapters are ``reading/mailbox.py``'s ``ImapAccount`` (or the demo ``MockMailbox``),
``parse_workers.parse_mails`` and ``reading/store.py``'s ``PostgresCursors``; the unit tier's
in-memory fakes are held to them by ``tests/test_poller_mail_contract.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.reading.relay_mail import RelayMail


@dataclass(frozen=True)
class Cursor:
    uid_validity: int
    last_uid: int


@dataclass(frozen=True)
class FetchedMail:
    uid: int
    raw: bytes


@dataclass(frozen=True)
class NewMail:
    """What is new in a folder, and the cursor to store once it has been handled."""

    mails: list[FetchedMail]
    cursor: Cursor | None  # None: the folder does not exist yet (no mail ever came)
    reread: bool = False  # UIDVALIDITY changed: the folder is read from the start
    more: bool = False  # mail past ``cursor`` is waiting: read again at once


class MailSource(Protocol):
    """Tenants' folders (``Mailbox``)."""

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        """At most ``limit`` mails after ``cursor``, oldest first."""
        ...

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        """Every folder named ``<prefix>…`` and how many mails it holds."""
        ...


class CursorStore(Protocol):
    """``poller_mail_cursors``: how far each tenant's folder was read."""

    async def get_cursor(self, tenant_id: str) -> Cursor | None: ...

    async def save_cursor(self, tenant_id: str, folder: str, cursor: Cursor) -> None: ...


class CursorWrites(Protocol):
    """A unit of work's writes, the cursor among them."""

    @property
    def cursors(self) -> CursorStore: ...


W = TypeVar("W", bound=CursorWrites)

# The mails of a batch, parsed within the parse budget, in order.
Parse = Callable[[list[bytes]], Awaitable[list[RelayMail]]]


@dataclass(frozen=True)
class ReadingPorts(Generic[W]):
    """What reading touches; ``W``: what the caller's unit of work writes (``bootstrap.py``)."""

    mailbox: MailSource
    parse: Parse
    cursors: CursorStore  # outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[StoreUnit[W]]]
