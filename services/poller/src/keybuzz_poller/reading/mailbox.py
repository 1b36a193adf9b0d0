"""Reading one tenant's folder over IMAP: only what is new since the cursor.

The cursor is the folder's UIDVALIDITY and the last UID read. UIDs only grow
within one UIDVALIDITY; when the server hands out a new UIDVALIDITY (the folder
was re-created, or the mail store rebuilt) the old UIDs mean nothing and the
whole folder is read again — the copies are recognised downstream by
Message-ID. Mail is fetched with ``BODY.PEEK[]``: reading never changes flags.

A poll is one round trip: ``SELECT`` and ``UID FETCH cursor+1:cursor+limit`` are
sent together (pipelined; a failed SELECT leaves no folder selected, so the FETCH
then fails harmlessly). SELECT's ``UIDNEXT`` bounds what the FETCH may count: a
mail delivered in between is read by the next poll. The few commands a poll needs
are spoken by :class:`_Connection` over asyncio streams, which reads a FETCH
response in one pass and takes any number of mails per FETCH (docs/BENCHMARKS.md,
bench_poller).
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_poller.reading.ports import Cursor, FetchedMail, NewMail

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH = re.compile(rb"^\* \d+ FETCH \(")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")
_LIST_NAME = re.compile(rb'^\([^)]*\) (?:"[^"]*"|NIL) (.+)$')
_MESSAGES = re.compile(rb"MESSAGES (\d+)")
# imaplib's STATUS line, without ``* STATUS``: ``tenant-x (MESSAGES 1)`` or the name quoted.
_STATUS = re.compile(rb'^(?:"((?:[^"\\]|\\.)*)"|(\S+)) \(.*?\bMESSAGES (\d+)')
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")  # a line announcing a literal of that many bytes
_CONTROL = re.compile(r"[\x00\r\n]")

T = TypeVar("T")
CLOSE_SECONDS = 2.0  # a LOGOUT that takes longer is not worth waiting for
LINE_LIMIT = 1 << 20  # longest response line read (literals are read apart, whatever their size)
_UNKNOWN_UIDNEXT = 2**63


class MailboxUnavailable(DependencyUnavailable):
    """The IMAP server is down or refused us: try again later, nothing is lost."""


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
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        timeout: float = 30.0,
        pool_size: int = 8,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.timeout = timeout
        self.pool_size = pool_size
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(pool_size)

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        """At most ``limit`` mails after ``cursor``, oldest first."""
        return await self._with_connection(lambda imap: _read(imap, folder, cursor, limit))

    async def is_ready(self) -> bool:
        """A fresh LOGIN answers now: ``/ready`` must not trust a connection opened earlier."""
        try:
            imap = await self._login(min(self.timeout, 2.0))
        except (OSError, TimeoutError, EOFError, MailboxUnavailable):
            return False
        await imap.close()
        return True

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        """Every folder named ``<prefix>…`` and how many mails it holds.

        Read with the standard library's imaplib in a worker thread: one LIST-STATUS
        where the server offers it, else a LIST and a STATUS per folder
        (``_count_folders``); once per interval, off the polls' path, and blocking is
        simplest there.
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
        await asyncio.gather(*(imap.close() for imap in idle))

    async def _with_connection(self, work: Callable[[_Connection], Awaitable[T]]) -> T:
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

    async def _on_one_connection(self, work: Callable[[_Connection], Awaitable[T]]) -> T:
        imap = self._idle.pop() if self._idle else None
        try:
            if imap is None or not imap.usable():
                if imap is not None:
                    await imap.close()
                imap = await self._login(self.timeout)
            result = await work(imap)
        except (OSError, TimeoutError, EOFError) as exc:  # EOFError: the server hung up
            if imap is not None:
                await imap.close()
            raise MailboxUnavailable(f"IMAP {self.host}:{self.port}: {type(exc).__name__}") from exc
        except BaseException:  # a refusal, a cancelled poll: the connection's state is unknown
            if imap is not None:
                await imap.close()
            raise
        self._idle.append(imap)
        return result

    async def _login(self, within: float) -> _Connection:
        return await _Connection.login(self.host, self.port, self.user, self.password, within)


@dataclass(frozen=True)
class _Reply:
    """A command's tagged status and the untagged responses that came before it."""

    status: bytes  # OK, NO or BAD
    untagged: list[_Untagged]


@dataclass(frozen=True)
class _Untagged:
    """One untagged response: its line(s) without literals, and the literals in order."""

    text: bytes
    literals: list[bytes]


class _Connection:
    """One IMAP connection (asyncio streams): the commands a poll needs, pipelined.

    Responses are read a line at a time; a line ending in ``{n}`` is followed by a
    literal of exactly ``n`` bytes (a mail), read whole. Every command is answered
    within ``timeout`` or the connection is given up (the pool closes it).
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self._tags = itertools.count(1)
        self._authenticated = False

    @classmethod
    async def login(
        cls, host: str, port: int, user: str, password: str, within: float
    ) -> _Connection:
        """Connect, read the greeting and LOGIN, each step within ``within`` seconds."""
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        imap = cls(reader, writer, within)
        try:
            async with asyncio.timeout(within):
                greeting = await imap._response()
            if not greeting.text.startswith(b"* OK"):
                raise MailboxUnavailable("the IMAP server did not greet us with OK")
            (logged_in,) = await imap.run(f"LOGIN {_quoted(user)} {_quoted(password)}")
            _ok(logged_in, "LOGIN")
        except BaseException:
            await imap.close()
            raise
        imap._authenticated = True
        return imap

    async def run(self, *commands: str) -> list[_Reply]:
        """Send ``commands`` at once, then read each one's reply, in order."""
        tags = [f"K{next(self._tags)}" for _ in commands]
        self.writer.write(
            "".join(f"{t} {c}\r\n" for t, c in zip(tags, commands, strict=True)).encode()
        )
        async with asyncio.timeout(self.timeout):
            await self.writer.drain()
            return [await self._reply(tag.encode()) for tag in tags]

    async def _reply(self, tag: bytes) -> _Reply:
        untagged: list[_Untagged] = []
        while True:
            response = await self._response()
            if response.text.startswith(b"* "):
                untagged.append(response)
            elif response.text.startswith(tag + b" "):
                status = response.text[len(tag) + 1 :].split(b" ", 1)[0]
                return _Reply(status, untagged)
            # Anything else (a continuation request, another tag) is not ours to answer.

    async def _response(self) -> _Untagged:
        """One response: its lines, and the literals announced at their ends."""
        lines: list[bytes] = []
        literals: list[bytes] = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            literal = _LITERAL.search(line)
            if literal is None:
                lines.append(line[:-2])
                return _Untagged(b"".join(lines), literals)
            lines.append(line[: literal.start()])
            literals.append(await self.reader.readexactly(int(literal[1])))

    def usable(self) -> bool:
        """Logged in, and the server has not closed the connection since."""
        return self._authenticated and not self.reader.at_eof() and not self.writer.is_closing()

    async def close(self) -> None:
        """LOGOUT if the connection still answers (briefly); then the socket is closed anyway."""
        if self.usable():
            with contextlib.suppress(Exception):  # closing a broken connection: nothing to save
                self.timeout = min(self.timeout, CLOSE_SECONDS)
                await self.run("LOGOUT")
        self._authenticated = False
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_SECONDS)


def _quoted(value: str) -> str:
    """An IMAP quoted string (RFC 3501): CR, LF and NUL cannot be sent in one."""
    if _CONTROL.search(value):
        raise ValueError("NUL, CR and LF cannot be sent in an IMAP quoted string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


async def _read(imap: _Connection, folder: str, cursor: Cursor | None, limit: int) -> NewMail:
    after = cursor.last_uid if cursor is not None else 0
    selected, fetched = await imap.run(f"SELECT {_quoted(folder)}", _fetch(after, limit))
    if selected.status != b"OK":  # no mail was ever delivered to this tenant
        return NewMail(mails=[], cursor=cursor)
    uid_validity = _uid_validity(selected)
    reread = cursor is not None and cursor.uid_validity != uid_validity
    if reread:  # the UIDs fetched belong to another generation of the folder
        after = 0
        (fetched,) = await imap.run(_fetch(after, limit))
    _ok(fetched, "UID FETCH")
    uid_next = _uid_next(selected)
    mails = _mails(fetched, after, min(after + limit, uid_next - 1))
    if uid_next == _UNKNOWN_UIDNEXT:  # a server not telling: what came back is what there is
        last = max((m.uid for m in mails), default=after)
        return NewMail(mails, Cursor(uid_validity, last), reread, more=len(mails) == limit)
    # Every UID up to ``last`` was fetched or is gone for good (UIDs are never reused).
    last = max(after, min(after + limit, uid_next - 1))
    return NewMail(mails, Cursor(uid_validity, last), reread, more=last < uid_next - 1)


def _fetch(after: int, limit: int) -> str:
    """The next ``limit`` UIDs (a range of explicit numbers: "n:*" would match the last mail)."""
    return f"UID FETCH {after + 1}:{after + limit} (UID BODY.PEEK[])"


def _uid_validity(selected: _Reply) -> int:
    for response in selected.untagged:
        match = _UIDVALIDITY.search(response.text)
        if match:
            return int(match[1])
    raise MailboxUnavailable("the IMAP server did not report UIDVALIDITY")


def _uid_next(selected: _Reply) -> int:
    """The UID the next mail will get; unknown (a server not sending it) is a large number."""
    for response in selected.untagged:
        match = _UIDNEXT.search(response.text)
        if match:
            return int(match[1])
    return _UNKNOWN_UIDNEXT


def _mails(fetched: _Reply, after: int, last: int) -> list[FetchedMail]:
    """``* n FETCH (UID u BODY[] {size}`` + the mail + ``)``, for UIDs in ``after+1..last``.

    A mail delivered after SELECT may come back too (the FETCH sees it): it is past
    ``UIDNEXT``, so left for the next read, which counts it in.
    """
    mails: list[FetchedMail] = []
    for response in fetched.untagged:
        if not response.literals or not _FETCH.match(response.text):
            continue  # EXISTS, RECENT, a flag change …
        uid = _FETCH_UID.search(response.text)
        if uid is not None and after < int(uid[1]) <= last:
            mails.append(FetchedMail(uid=int(uid[1]), raw=response.literals[0]))
    return sorted(mails, key=lambda m: m.uid)


def _ok(reply: _Reply, what: str) -> None:
    if reply.status != b"OK":
        raise MailboxUnavailable(f"IMAP {what} answered {reply.status.decode(errors='replace')}")
