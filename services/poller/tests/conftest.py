"""Poller test fixtures: the service with its MX, against the session's Dovecot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.service import DEFINITION
from mailkit import MAX_MESSAGE_BYTES


@pytest.fixture
async def poller(
    start_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> RunningService:
    # No scheduled polls: these tests read or poll when they choose (poll-now still works).
    return await start_service(
        DEFINITION,
        MX_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES),
        POLL_ENABLED="false",
        **dovecot.settings,
    )


@pytest.fixture
async def imap(dovecot: MailServer) -> AsyncIterator[ImapAccount]:
    account = ImapAccount(dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password)
    yield account
    await account.close()  # its pooled connections log out
