"""Poller test fixtures: the service with its MX, against the session's Dovecot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.service import DEFINITION
from mailkit import mail_poller_settings


@pytest.fixture
async def poller(
    start_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> RunningService:
    return await start_service(DEFINITION, **mail_poller_settings(dovecot))


@pytest.fixture
async def imap(dovecot: MailServer) -> AsyncIterator[ImapAccount]:
    account = ImapAccount(dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password)
    yield account
    await account.close()  # its pooled connections log out
