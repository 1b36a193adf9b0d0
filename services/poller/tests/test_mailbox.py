"""Reading a tenant's folder over IMAP: only new mail per cursor, UIDVALIDITY, nothing lost."""

from __future__ import annotations

import asyncio
import smtplib

import aioimaplib
import pytest
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.polling.tenant_poll import BATCH, poll_tenant
from keybuzz_poller.reading import store
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_shared.uow import StoreUnit
from mailkit import ORDER, module_poller, new_tenant, relay_mail, send, synced

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller


class Collected:
    """A handler that records what it was given (in the cursor's unit of work)."""

    def __init__(self, fail: bool = False) -> None:
        self.mails: list[RelayMail] = []
        self.fail = fail

    async def __call__(self, unit: StoreUnit[object], mails: list[RelayMail]) -> None:
        if self.fail:
            raise RuntimeError("storing failed")
        self.mails.extend(mails)


async def read(poller: RunningService, tenant: str) -> list[str]:
    handler = Collected()
    mails = (await read_batch(ports_of(poller.runtime).polls.reading, tenant, handler)).mails
    assert [m.text for m in mails] == [m.text for m in handler.mails]
    return [m.text for m in mails]


async def test_reading_returns_only_new_mail(poller: RunningService) -> None:
    tenant, address = new_tenant()
    other, other_address = new_tenant()
    await synced(poller, tenant, address)
    await synced(poller, other, other_address)
    assert await read(poller, tenant) == []  # no folder yet: nothing, no error

    await send(poller, relay_mail(address, "one"), address)
    await send(poller, relay_mail(address, "two"), address)
    await send(poller, relay_mail(other_address, "not yours"), other_address)
    assert await read(poller, tenant) == ["one", "two"]
    assert await read(poller, tenant) == []
    await send(poller, relay_mail(address, "three"), address)
    assert await read(poller, tenant) == ["three"]
    assert await read(poller, other) == ["not yours"]
    cursor = await store.get_cursor(poller.runtime.pool, tenant)
    assert cursor is not None and cursor[1] == 3


async def test_cursor_moves_only_when_the_handler_committed(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address, "keep me"), address)
    with pytest.raises(RuntimeError):
        await read_batch(ports_of(poller.runtime).polls.reading, tenant, Collected(fail=True))
    assert await read(poller, tenant) == ["keep me"]


async def test_uidvalidity_change_rereads_the_folder(
    poller: RunningService, dovecot: MailServer
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    for text in ("a", "b", "c"):
        await send(poller, relay_mail(address, text), address)
    assert await read(poller, tenant) == ["a", "b", "c"]

    # The folder is deleted and re-created (a rebuilt mail store does the same):
    # new UIDVALIDITY, UIDs from 1 again — below the cursor's last UID.
    client = aioimaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.user, dovecot.password)
    assert (await client.delete(folder_for(tenant))).result == "OK"
    await client.logout()
    await send(poller, relay_mail(address, "after rebuild"), address)

    assert await read(poller, tenant) == ["after rebuild"]


async def test_non_utf8_and_malformed_mail_is_read_not_lost(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    latin = relay_mail(address, "Grüße, où est le colis ?")
    latin.set_content(
        f"------------- Début du message -------------\nOù est le colis ? 10 EURO\n"
        f"------------- Fin du message -------------\nCommande : {ORDER}\n",
        charset="iso-8859-1",
        cte="8bit",
    )
    await send(poller, latin.as_bytes().replace(b"EURO", b"\x80"), address)  # windows-1252 €
    garbage = b"\xff\xfe\x00 not a mail at all \x80\x81\r\n"
    await send(poller, garbage, address)

    handler = Collected()
    mails = (await read_batch(ports_of(poller.runtime).polls.reading, tenant, handler)).mails
    assert len(mails) == 2
    assert (mails[0].text, mails[0].order_id, mails[0].parse_error) == (
        "Où est le colis ? 10 €",
        ORDER,
        None,
    )
    assert mails[1].parse_error is not None
    # Kept as received (Dovecot stores a NUL byte as 0x80), behind the MX's header.
    assert b"\xff\xfe\x80 not a mail at all \x80\x81" in mails[1].raw


def _deliver(dovecot: MailServer, tenant: str, address: str, texts: list[str]) -> None:
    """Blocking: straight into the tenant's folder over LMTP (quicker than the MX for many)."""
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=30) as lmtp:
        for text in texts:
            raw = relay_mail(address, text).as_bytes()
            lmtp.sendmail("bounces@amazonses.com", [f"{dovecot.user}+{folder_for(tenant)}"], raw)


async def _expunge(dovecot: MailServer, tenant: str, uids: str) -> None:
    client = aioimaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.user, dovecot.password)
    assert (await client.select(folder_for(tenant))).result == "OK"
    assert (await client.uid("store", uids, "+FLAGS.SILENT (\\Deleted)")).result == "OK"
    assert (await client.expunge()).result == "OK"
    await client.logout()


async def test_a_read_past_expunged_uids_says_more_mail_is_waiting(
    poller: RunningService, dovecot: MailServer, imap: ImapAccount
) -> None:
    """A read asks for the next ``limit`` UIDs; expunged ones leave it short, not the last."""
    tenant, address = new_tenant()
    await asyncio.to_thread(_deliver, dovecot, tenant, address, ["a", "b", "c", "d"])
    await _expunge(dovecot, tenant, "2")
    first = await imap.fetch_new(folder_for(tenant), None, limit=2)
    assert [m.uid for m in first.mails] == [1] and first.more
    assert first.cursor is not None and first.cursor.last_uid == 2
    second = await imap.fetch_new(folder_for(tenant), first.cursor, limit=2)
    assert [m.uid for m in second.mails] == [3, 4] and not second.more
    assert second.cursor is not None and second.cursor.last_uid == 4
    third = await imap.fetch_new(folder_for(tenant), second.cursor, limit=2)
    assert third.mails == [] and not third.more and third.cursor == second.cursor


async def test_one_poll_reads_a_folder_of_more_than_a_batch(
    poller: RunningService, dovecot: MailServer
) -> None:
    """One FETCH per batch of 200 (it was 50 a command); the poll goes on while the folder
    holds more, even when a batch came back short (an expunged mail in its range)."""
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    texts = [f"mail {n}" for n in range(BATCH + 2)]
    await asyncio.to_thread(_deliver, dovecot, tenant, address, texts)
    await _expunge(dovecot, tenant, "1")
    result = await poll_tenant(ports_of(poller.runtime).polls, tenant)
    assert (result.fetched, result.stored, result.duplicates) == (BATCH + 1, BATCH + 1, 0)
    cursor = await store.get_cursor(poller.runtime.pool, tenant)
    assert cursor is not None and cursor[1] == BATCH + 2
    assert (await poll_tenant(ports_of(poller.runtime).polls, tenant)).fetched == 0


async def test_a_folder_that_does_not_exist_reads_nothing_of_the_folder_selected_before(
    dovecot: MailServer,
) -> None:
    """SELECT and FETCH go together: a failed SELECT must leave no folder selected on the
    pooled connection, or the FETCH would read the previous tenant's mail."""
    account = ImapAccount(
        dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password, pool_size=1
    )
    try:
        (tenant, address), (stranger, _) = new_tenant(), new_tenant()
        await asyncio.to_thread(_deliver, dovecot, tenant, address, ["mine"])
        assert len((await account.fetch_new(folder_for(tenant), None)).mails) == 1
        nothing = await account.fetch_new(folder_for(stranger), None)  # same connection
        assert nothing.mails == [] and nothing.cursor is None and not nothing.more
    finally:
        await account.close()
