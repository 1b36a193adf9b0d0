"""Reading a tenant's new mail: :func:`read_batch`.

Dovecot (one folder per tenant, filled by the MX) → :func:`read_batch` from the mailbox
(``mailbox.py``, over IMAP) → parsed (``relay_mail.py``, in ``parse_workers.py``) → the
caller's handler, in the same unit of work as the cursor, so the cursor only moves past
mail that was handled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import msgspec
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.reading.ports import ReadingPorts, W
from keybuzz_poller.reading.relay_mail import RelayMail

log = logging.getLogger(__name__)


class ReadBatch(msgspec.Struct, frozen=True):
    mails: list[RelayMail]
    more: bool  # the folder holds more after these: read again at once


async def read_batch(
    ports: ReadingPorts[W],
    tenant_id: str,
    handle: Callable[[StoreUnit[W], list[RelayMail]], Awaitable[None]],
    limit: int = 200,
) -> ReadBatch:
    """The tenant's mail since its cursor, parsed; ``handle`` and the new cursor commit
    together. Also whether the folder holds more (a poll reads on while it does)."""
    folder = folder_for(tenant_id)
    cursor = await ports.cursors.get_cursor(tenant_id)
    new = await ports.mailbox.fetch_new(folder, cursor, limit)
    if new.reread:
        log.warning("UIDVALIDITY changed: folder read again", extra={"tenant_id": tenant_id})
    mails = await ports.parse([m.raw for m in new.mails])
    if new.cursor is None or new.cursor == cursor:
        return ReadBatch(mails, more=False)
    async with ports.unit_of_work() as unit:
        await handle(unit, mails)
        await unit.store.cursors.save_cursor(tenant_id, folder, new.cursor)
    return ReadBatch(mails, more=new.more)
