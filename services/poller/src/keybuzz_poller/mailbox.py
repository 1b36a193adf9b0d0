"""Reading one tenant's folder over IMAP (aioimaplib): only what is new since the cursor.

The cursor is the folder's UIDVALIDITY and the last UID read. UIDs only grow
within one UIDVALIDITY; when the server hands out a new UIDVALIDITY (the folder
was re-created, or the mail store rebuilt) the old UIDs mean nothing and the
whole folder is read again — the copies are recognised downstream by
Message-ID. Mail is fetched with ``BODY.PEEK[]``: reading never changes flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aioimaplib
from keybuzz_shared.errors import DependencyUnavailable

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")
_LIST_NAME = re.compile(rb'^\([^)]*\) (?:"[^"]*"|NIL) (.+)$')
_MESSAGES = re.compile(rb"MESSAGES (\d+)")


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
    """Where polls read tenants' mail: Dovecot over IMAP, or the demo mock (``mock_source.py``).

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


@dataclass(frozen=True)
class ImapAccount(Mailbox):
    host: str
    port: int
    user: str
    password: str
    timeout: float = 30.0

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        """At most ``limit`` mails after ``cursor``, oldest first."""
        client = aioimaplib.IMAP4(self.host, self.port, timeout=self.timeout)
        try:
            await client.wait_hello_from_server()
            await _ok(await client.login(self.user, self.password), "LOGIN")
            return await _read(client, folder, cursor, limit)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise MailboxUnavailable(f"IMAP {self.host}:{self.port}: {type(exc).__name__}") from exc
        finally:
            await _close(client)

    async def is_ready(self) -> bool:
        """LOGIN answers: what a ``/ready`` check of IMAP asks (docs/POLLER.md)."""
        client = aioimaplib.IMAP4(self.host, self.port, timeout=min(self.timeout, 2.0))
        try:
            await client.wait_hello_from_server()
            return (await client.login(self.user, self.password)).result == "OK"
        except (OSError, TimeoutError, aioimaplib.AioImapException):
            return False
        finally:
            await _close(client)

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        """Every folder named ``<prefix>…`` and how many mails it holds."""
        client = aioimaplib.IMAP4(self.host, self.port, timeout=self.timeout)
        try:
            await client.wait_hello_from_server()
            await _ok(await client.login(self.user, self.password), "LOGIN")
            listed = await client.list('""', f"{prefix}*")
            await _ok(listed, "LIST")
            names = [n for n in map(_listed_name, listed.lines) if n and n.startswith(prefix)]
            return {name: await _message_count(client, name) for name in names}
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise MailboxUnavailable(f"IMAP {self.host}:{self.port}: {type(exc).__name__}") from exc
        finally:
            await _close(client)


def _listed_name(line: bytes) -> str | None:
    """``(\\HasNoChildren) "." tenant-abc`` (or the name quoted) → ``tenant-abc``."""
    match = _LIST_NAME.search(line)
    return match[1].decode("utf-8", "replace").strip('"') if match else None


async def _message_count(client: aioimaplib.IMAP4, folder: str) -> int:
    status = await client.status(folder, "(MESSAGES)")
    await _ok(status, "STATUS")
    match = _MESSAGES.search(b" ".join(status.lines))
    return int(match[1]) if match else 0


async def _read(
    client: aioimaplib.IMAP4, folder: str, cursor: Cursor | None, limit: int
) -> NewMail:
    selected = await client.select(folder)
    if selected.result != "OK":  # no mail was ever delivered to this tenant
        return NewMail(mails=[], cursor=cursor)
    uid_validity = _uid_validity(selected.lines)
    reread = cursor is not None and cursor.uid_validity != uid_validity
    after = cursor.last_uid if cursor is not None and not reread else 0
    found = await client.uid_search(f"UID {after + 1}:*")
    await _ok(found, "UID SEARCH")
    # "n:*" also matches the highest UID when it is below n (RFC 3501): filter.
    uids = sorted(u for u in _numbers(found.lines[0]) if u > after)[:limit]
    if not uids:
        return NewMail(mails=[], cursor=Cursor(uid_validity, after), reread=reread)
    fetched = await client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    await _ok(fetched, "UID FETCH")
    mails = _mails(fetched.lines)
    return NewMail(mails=mails, cursor=Cursor(uid_validity, max(uids)), reread=reread)


def _uid_validity(lines: list[bytes]) -> int:
    for line in lines:
        match = _UIDVALIDITY.search(line)
        if match:
            return int(match[1])
    raise MailboxUnavailable("the IMAP server did not report UIDVALIDITY")


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
