"""The mailbox polls read from, in the service's life: made at start-up (Dovecot over IMAP, or
the demo mock), checked by ``/ready``, closed at shutdown; the parse budget from the settings."""

from __future__ import annotations

import logging
from typing import Any

from keybuzz_poller.reading.mailbox import ImapAccount, Mailbox
from keybuzz_poller.reading.mock_mailbox import MockMailbox
from keybuzz_poller.reading.relay_mail import ParseBudget
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings

log = logging.getLogger(__name__)


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
        MockMailbox(settings.inbound_domain) if settings.mail_relay_demo else imap_account(settings)
    )
    if settings.mail_relay_demo:
        log.warning(f"{settings.mail_relay_demo_env}=true: polls read demo mails, not Dovecot")
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
