"""Demo mode (the relay's mock setting, ``settings.mail_relay_demo``): deterministic relay
mails for demos, behind the mailbox interface.

Instead of IMAP, :class:`MockMailbox` hands every tenant the same few relay mails of the
first relay's demo (its connector's ``demo_mail``: real orders of the sandbox's seeded
seller, docs/SANDBOX.md), and they go through the very same path as real mail:
``read_batch`` → ``relay_mail.parse`` → ``from_mails.store_mails`` (tickets,
``message.received``), with a cursor, so a second poll adds nothing. Refused when
``KEYBUZZ_ENV`` is production-like (``settings.py``).
"""

from __future__ import annotations

from keybuzz_poller.inbound.addresses import FOLDER_PREFIX, INBOUND_HEADER
from keybuzz_poller.inbound.relays import relay_for
from keybuzz_poller.reading.mailbox import Mailbox
from keybuzz_poller.reading.ports import Cursor, FetchedMail, NewMail

# Any constant: the mock folder is never re-created, so UIDs never start over.
UID_VALIDITY = 1
DEMO_RELAY = relay_for(None)  # the first relay's demo mails
MAIL_COUNT = DEMO_RELAY.demo_mail_count


def mock_mail(tenant_id: str, index: int, inbound_domain: str) -> bytes:
    """The ``index``-th mock relay mail of a tenant, byte for byte the same every time."""
    return DEMO_RELAY.demo_mail(tenant_id, index, inbound_domain, INBOUND_HEADER)


class MockMailbox(Mailbox):
    """Every tenant's folder holds the same ``MAIL_COUNT`` mails, UIDs 1…n."""

    def __init__(self, inbound_domain: str) -> None:
        self.inbound_domain = inbound_domain

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        tenant_id = folder.removeprefix(FOLDER_PREFIX)
        after = cursor.last_uid if cursor and cursor.uid_validity == UID_VALIDITY else 0
        uids = list(range(after + 1, MAIL_COUNT + 1))[:limit]
        mails = [
            FetchedMail(uid, mock_mail(tenant_id, uid - 1, self.inbound_domain)) for uid in uids
        ]
        last = max(uids, default=after)
        return NewMail(mails, Cursor(UID_VALIDITY, last), more=last < MAIL_COUNT)

    async def is_ready(self) -> bool:
        return True

    async def tenant_folders(self, prefix: str = FOLDER_PREFIX) -> dict[str, int]:
        return {}  # nothing is ever delivered: nothing to quarantine
