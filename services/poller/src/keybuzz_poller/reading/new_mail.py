"""Reading a tenant's new mail: the mailbox polls read from, and :func:`read_batch`.

Dovecot (one folder per tenant, filled by the MX) → :func:`read_batch` over IMAP
(``mailbox.py``) → parsed (``relay_mail.py``, in ``parse_workers.py``) → the caller's
handler, in the same unit of work as the cursor, so the cursor only moves past mail
that was handled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from keybuzz_shared.uow import UnitOfWork

from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.reading import store
from keybuzz_poller.reading.mailbox import Cursor, ImapAccount, Mailbox
from keybuzz_poller.reading.mock_mailbox import MockMailbox
from keybuzz_poller.reading.parse_workers import parse_mails
from keybuzz_poller.reading.relay_mail import ParseBudget, RelayMail
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings

log = logging.getLogger(__name__)

MailHandler = Callable[[UnitOfWork, list[RelayMail]], Awaitable[None]]


def imap_account(settings: PollerSettings) -> ImapAccount:
    # One connection per concurrent poll: more would idle, fewer would queue polls.
    return ImapAccount(
        settings.imap_host,
        settings.imap_port,
        settings.imap_user,
        settings.imap_password,
        pool_size=settings.poll_concurrency,
    )


def parse_budget(settings: PollerSettings) -> ParseBudget:
    return ParseBudget(
        max_parts=settings.parse_max_parts,
        max_depth=settings.parse_max_depth,
        max_seconds=settings.parse_max_seconds,
    )


async def provide_mailbox(runtime: PollerRuntime) -> None:
    """``on_startup``: the mailbox polls read from (also in ``--once`` runs, without MX)."""
    settings = runtime.settings
    mailbox: Mailbox = (
        MockMailbox(settings.inbound_domain) if settings.amazon_use_mock else imap_account(settings)
    )
    if settings.amazon_use_mock:
        log.warning("AMAZON_USE_MOCK=true: polls read demo mails, not Dovecot")
    # Keyed by the interface, not the class: readers ask for ``Mailbox`` whichever it is.
    runtime.components[Mailbox] = mailbox


async def imap_ready(runtime: PollerRuntime) -> bool:
    """``/ready``'s ``imap`` check: the poller's IMAP account can log in."""
    return await runtime.component(Mailbox).is_ready()


async def close_mailbox(runtime: Any) -> None:
    """``on_shutdown``, last: the pooled IMAP connections log out."""
    mailbox = runtime.components.get(Mailbox)
    if isinstance(mailbox, Mailbox):
        await mailbox.close()


class ReadBatch(msgspec.Struct, frozen=True):
    mails: list[RelayMail]
    more: bool  # the folder holds more after these: read again at once


async def read_batch(
    runtime: PollerRuntime, tenant_id: str, handle: MailHandler, limit: int = 200
) -> ReadBatch:
    """The tenant's mail since its cursor, parsed; ``handle`` and the new cursor commit
    together. Also whether the folder holds more (a poll reads on while it does)."""
    folder = folder_for(tenant_id)
    saved = await store.get_cursor(runtime.pool, tenant_id)
    cursor = Cursor(*saved) if saved else None
    new = await runtime.component(Mailbox).fetch_new(folder, cursor, limit)
    if new.reread:
        log.warning("UIDVALIDITY changed: folder read again", extra={"tenant_id": tenant_id})
    mails = await parse_mails([m.raw for m in new.mails], parse_budget(runtime.settings))
    if new.cursor is None or new.cursor == cursor:
        return ReadBatch(mails, more=False)
    async with runtime.unit_of_work() as uow:
        await handle(uow, mails)
        await store.save_cursor(
            uow.conn, tenant_id, folder, new.cursor.uid_validity, new.cursor.last_uid
        )
    return ReadBatch(mails, more=new.more)
