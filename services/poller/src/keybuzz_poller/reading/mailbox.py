"""Reading one tenant's folder over IMAP (aioimaplib): only what is new since the cursor.

The cursor is the folder's UIDVALIDITY and the last UID read. UIDs only grow
within one UIDVALIDITY; when the server hands out a new UIDVALIDITY (the folder
was re-created, or the mail store rebuilt) the old UIDs mean nothing and the
whole folder is read again — the copies are recognised downstream by
Message-ID. Mail is fetched with ``BODY.PEEK[]``: reading never changes flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aioimaplib
from keybuzz_shared.errors import DependencyUnavailable

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")
_LIST_NAME = re.compile(rb'^\([^)]*\) (?:"[^"]*"|NIL) (.+)$')
_MESSAGES = re.compile(rb"MESSAGES (\d+)")
# imaplib's STATUS line, without ``* STATUS``: ``tenant-x (MESSAGES 1)`` or the name quoted.
_STATUS = re.compile(rb'^(?:"((?:[^"\\]|\\.)*)"|(\S+)) \(.*?\bMESSAGES (\d+)')
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")

T = TypeVar("T")
# aioimaplib parses what one read returned recursively, a few frames per mail: a FETCH
# response of hundreds of small mails arriving at once (a loaded machine) exceeded
# Python's recursion limit in bench_poller. A bounded response per command cannot.
FETCH_CHUNK = 50
CLOSE_SECONDS = 2.0  # a LOGOUT that takes longer is not worth waiting for


class MailboxUnavailable(DependencyUnavailable):
    """The IMAP server is down or refused us: try again later, nothing is lost."""


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


class Mailbox:
    """Where polls read tenants' mail: Dovecot over IMAP, or the demo mock (``mock_mailbox.py``).

    A plain base class, not an ABC: ``runtime.component(Mailbox)`` needs a concrete type.
    """

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        """At most ``limit`` mails after ``cursor``, oldest first."""
        raise NotImplementedError

    async def is_ready(self) -> bool:
        """Whether reading can work now (``/ready``)."""
        raise NotImplementedError

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        """Every folder named ``<prefix>…`` and how many mails it holds."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the mailbox holds open (on shutdown)."""


class ImapAccount(Mailbox):
    """The poller's IMAP account, with a few logged-in connections kept open between polls.

    A poll borrows one connection, SELECTs the tenant's folder on it and gives it
    back: LOGIN once per connection, not once per poll (each LOGIN costs Dovecot a
    new ``imap`` process and an authentication). At most ``pool_size`` connections
    are open (polls beyond that wait for one). A connection that failed, timed out
    or was cut by the server is closed and forgotten; the next poll logs in afresh.
    """

    def __init__(
        self, host: str, port: int, user: str, password: str, timeout: float = 30.0,
        pool_size: int = 8,
    ) -> None:  # fmt: skip
        self.host, self.port, self.user, self.password = host, port, user, password
        self.timeout = timeout
        self.pool_size = pool_size
        self._idle: list[_Session] = []
        self._slots = asyncio.Semaphore(pool_size)

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        """At most ``limit`` mails after ``cursor``, oldest first."""
        return await self._with_connection(lambda client: _read(client, folder, cursor, limit))

    async def is_ready(self) -> bool:
        """A fresh LOGIN answers now: ``/ready`` must not trust a connection opened earlier."""
        client = aioimaplib.IMAP4(self.host, self.port, timeout=min(self.timeout, 2.0))
        try:
            await client.wait_hello_from_server()
            return (await client.login(self.user, self.password)).result == "OK"
        except (OSError, TimeoutError, aioimaplib.AioImapException):
            return False
        finally:
            await _close(client)

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        """Every folder named ``<prefix>…`` and how many mails it holds.

        Read with the standard library's imaplib in a worker thread, not aioimaplib:
        LIST answers a line per folder, and aioimaplib parses the lines of one socket
        read recursively; 1,000 tenants' folders in one read overflowed Python's
        recursion limit (bench_poller, docs/BENCHMARKS.md). Once per interval, off
        the polls' path.
        """
        try:
            return await asyncio.to_thread(self._count_folders, prefix)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(f"IMAP {self.host}:{self.port}: {type(exc).__name__}") from exc

    def _count_folders(self, prefix: str) -> dict[str, int]:
        """Blocking (a worker thread): the folders and their counts in one command where the
        server has LIST-STATUS (RFC 5819, Dovecot), else LIST then a STATUS per folder: a
        round trip per folder took most of the scan at 20,000 folders (bench_poll_scale)."""
        with imaplib.IMAP4(self.host, self.port, timeout=self.timeout) as imap:
            imap.login(self.user, self.password)
            if has_list_status(imap):
                return _list_status(imap, prefix)
            return {name: _status_messages(imap, name) for name in _list(imap, prefix, "")}

    async def close(self) -> None:
        """LOGOUT of every idle connection (shutdown)."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(session.close() for session in idle))

    async def _with_connection(self, work: Callable[[aioimaplib.IMAP4], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; one that was closed while idle is replaced once."""
        async with self._slots:
            reused = bool(self._idle)
            try:
                return await self._on_one_connection(work)
            except MailboxUnavailable as exc:
                if not reused or isinstance(exc.__cause__, TimeoutError):
                    raise  # a slow server is not made faster by asking twice
            # An idle connection the server had closed (restart, idle timeout): a new one.
            return await self._on_one_connection(work)

    async def _on_one_connection(self, work: Callable[[aioimaplib.IMAP4], Awaitable[T]]) -> T:
        session = self._idle.pop() if self._idle else None
        try:
            if session is None or not session.usable():
                if session is not None:
                    await session.close()
                session = await self._login()
            result = await session.run(work)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            if session is not None:
                await session.close()
            raise MailboxUnavailable(f"IMAP {self.host}:{self.port}: {type(exc).__name__}") from exc
        except BaseException:  # a refusal, a cancelled poll: the session's state is unknown
            if session is not None:
                await session.close()
            raise
        self._idle.append(session)
        return result

    async def _login(self) -> _Session:
        session = _Session.open(self.host, self.port, self.timeout)
        try:
            await session.run(lambda client: client.wait_hello_from_server())
            await _ok(await session.run(lambda c: c.login(self.user, self.password)), "LOGIN")
        except BaseException:
            await session.close()
            raise
        return session


class _Session:
    """One logged-in connection, and a future the connection's loss resolves.

    aioimaplib leaves a command waiting for its timeout (30 s) when the server cuts
    the connection under it; racing the command against the loss fails it at once.
    """

    def __init__(self, client: aioimaplib.IMAP4, lost: asyncio.Future[None]) -> None:
        self.client, self.lost = client, lost

    @classmethod
    def open(cls, host: str, port: int, timeout: float) -> _Session:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def connection_lost(_: Exception | None) -> None:
            if not lost.done():
                lost.set_result(None)

        client = aioimaplib.IMAP4(host, port, timeout=timeout, conn_lost_cb=connection_lost)
        return cls(client, lost)

    async def run(self, work: Callable[[aioimaplib.IMAP4], Awaitable[T]]) -> T:
        task = asyncio.ensure_future(work(self.client))
        waiters: list[asyncio.Future[Any]] = [task, self.lost]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the poll itself was cancelled
            task.cancel()
            raise
        if not task.done():  # the connection went first
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise ConnectionResetError("the IMAP server closed the connection")
        return task.result()

    def usable(self) -> bool:
        """Logged in, and the server has not closed the connection since."""
        protocol = self.client.protocol
        return (
            not self.lost.done() and protocol is not None and protocol.state in {"AUTH", "SELECTED"}
        )

    async def close(self) -> None:
        """LOGOUT if the connection still answers (briefly); then the socket is closed anyway."""
        if not self.lost.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_close(self.client), CLOSE_SECONDS)
        transport = getattr(self.client.protocol, "transport", None)
        if transport is not None:
            transport.close()


def has_list_status(imap: imaplib.IMAP4) -> bool:
    """Asked once logged in: Dovecot names LIST-STATUS only to an authenticated client."""
    status, data = imap.capability()
    return status == "OK" and b"LIST-STATUS" in b" ".join(d for d in data if isinstance(d, bytes))


def _list(imap: imaplib.IMAP4, prefix: str, returning: str) -> list[str]:
    """LIST ``<prefix>*`` (``returning``: LIST-STATUS's ``RETURN (…)``): the names listed."""
    # imaplib sends its arguments as given: the pattern is quoted here, RETURN follows it.
    status, listed = imap.list('""', f'"{prefix}*"{returning}')
    if status != "OK":
        raise MailboxUnavailable(f"IMAP LIST answered {status}")
    lines = [line for line in listed if isinstance(line, bytes)]
    return [n for n in map(_listed_name, lines) if n and n.startswith(prefix)]


def _list_status(imap: imaplib.IMAP4, prefix: str) -> dict[str, int]:
    """One LIST with ``RETURN (STATUS (MESSAGES))``: a STATUS line comes with each folder."""
    names = _list(imap, prefix, " RETURN (STATUS (MESSAGES))")
    _, statuses = imap.response("STATUS")  # the untagged STATUS lines, taken from imaplib
    counts = dict.fromkeys(names, 0)
    for line in statuses:
        match = _STATUS.match(line) if isinstance(line, bytes) else None
        if match:
            name = (match[1] or match[2]).decode("utf-8", "replace").replace('\\"', '"')
            if name in counts:
                counts[name] = int(match[3])
    return counts


def _status_messages(imap: imaplib.IMAP4, name: str) -> int:
    status, data = imap.status(name, "(MESSAGES)")
    if status != "OK":
        raise MailboxUnavailable(f"IMAP STATUS answered {status}")
    match = _MESSAGES.search(b" ".join(d for d in data if isinstance(d, bytes)))
    return int(match[1]) if match else 0


def _listed_name(line: bytes) -> str | None:
    """``(\\HasNoChildren) "." tenant-abc`` (or the name quoted) → ``tenant-abc``."""
    match = _LIST_NAME.search(line)
    return match[1].decode("utf-8", "replace").strip('"') if match else None


async def _read(
    client: aioimaplib.IMAP4, folder: str, cursor: Cursor | None, limit: int
) -> NewMail:
    selected = await client.select(folder)
    if selected.result != "OK":  # no mail was ever delivered to this tenant
        return NewMail(mails=[], cursor=cursor)
    uid_validity = _uid_validity(selected.lines)
    reread = cursor is not None and cursor.uid_validity != uid_validity
    after = cursor.last_uid if cursor is not None and not reread else 0
    if _uid_next(selected.lines) <= after + 1:  # nothing delivered since: no SEARCH needed
        return NewMail(mails=[], cursor=Cursor(uid_validity, after), reread=reread)
    found = await client.uid_search(f"UID {after + 1}:*")
    await _ok(found, "UID SEARCH")
    # "n:*" also matches the highest UID when it is below n (RFC 3501): filter.
    uids = sorted(u for u in _numbers(found.lines[0]) if u > after)[:limit]
    if not uids:
        return NewMail(mails=[], cursor=Cursor(uid_validity, after), reread=reread)
    mails: list[FetchedMail] = []
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = ",".join(map(str, uids[start : start + FETCH_CHUNK]))
        fetched = await client.uid("fetch", chunk, "(UID BODY.PEEK[])")
        await _ok(fetched, "UID FETCH")
        mails += _mails(fetched.lines)
    return NewMail(mails=mails, cursor=Cursor(uid_validity, max(uids)), reread=reread)


def _uid_validity(lines: list[bytes]) -> int:
    for line in lines:
        match = _UIDVALIDITY.search(line)
        if match:
            return int(match[1])
    raise MailboxUnavailable("the IMAP server did not report UIDVALIDITY")


def _uid_next(lines: list[bytes]) -> int:
    """The UID the next mail will get; unknown (a server not sending it) reads as "maybe new"."""
    for line in lines:
        match = _UIDNEXT.search(line)
        if match:
            return int(match[1])
    return 2**63


def _numbers(line: bytes) -> list[int]:
    return [int(word) for word in line.split() if word.isdigit()]


def _mails(lines: list[bytes | bytearray]) -> list[FetchedMail]:
    """aioimaplib: ``n FETCH (UID u BODY[] {size}``, then the literal, then ``)``."""
    mails: list[FetchedMail] = []
    uid: int | None = None
    for line in lines:
        if isinstance(line, bytearray):
            if uid is not None:
                mails.append(FetchedMail(uid=uid, raw=bytes(line)))
            uid = None
            continue
        match = _FETCH_UID.search(line) if b" FETCH " in line else None
        if match:
            uid = int(match[1])
    return sorted(mails, key=lambda m: m.uid)


async def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        raise MailboxUnavailable(f"IMAP {what} answered {response.result}")


async def _close(client: aioimaplib.IMAP4) -> None:
    try:
        if client.protocol is not None and client.protocol.state in {"AUTH", "SELECTED"}:
            await client.logout()
    except Exception:  # closing a broken connection: nothing left to save
        pass
