"""Failures: IMAP down (recorded, retried with back-off, recovered), mail of unknown tenants kept."""

from __future__ import annotations

import asyncio
import imaplib
import os
import smtplib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from keybuzz_devstack.outage import Outage
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.polling import store
from keybuzz_poller.polling.quarantine import scan_quarantine
from keybuzz_poller.reading.mailbox import (
    ImapAccount,
    _list,
    _status_messages,
    has_list_status,
)
from keybuzz_poller.service import DEFINITION
from mailkit import folder, get_json, headers, new_tenant, relay_mail, send, synced

StartService = Callable[..., Awaitable[RunningService]]


async def test_imap_outage_is_recorded_retried_and_recovered(
    start_service: StartService, dovecot: MailServer
) -> None:
    imap = Outage(
        "127.0.0.1", dovecot.imap_port
    )  # the poller reads through it; the MX delivers directly
    await imap.up()
    poller = await start_service(
        DEFINITION,
        POLL_INTERVAL_SECONDS="1",
        POLL_RETRY_BASE_SECONDS="0.2",
        POLL_RETRY_MAX_SECONDS="1",
        **{**dovecot.settings, "IMAP_PORT": str(imap.port)},
    )
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await eventually(lambda: _polled(poller, tenant))  # a pooled IMAP connection is open
    await send(poller, relay_mail(address, "sent during the outage"), address)
    await imap.down()
    async with poller.client() as http:
        ready = await http.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["imap"] is False
        response = await http.post("/api/v1/poller/poll", headers=headers(poller, tenant))
    assert response.status_code == 503 and response.json()["error"] == "unavailable"

    async def failing_again() -> dict[str, object] | None:
        status = await get_json(poller, tenant, "/api/v1/poller/status")
        return status if status["consecutiveFailures"] >= 3 else None

    status = await eventually(failing_again)  # the scheduler keeps retrying, backing off
    assert "IMAP" in str(status["lastError"]) and status["lastErrorAt"] is not None
    assert await _stored(poller, tenant) == 0

    await imap.up()  # the severed connections are replaced by new ones
    async with poller.client() as http:
        ready = await http.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["imap"] is True

    async def recovered() -> dict[str, object] | None:
        status = await get_json(poller, tenant, "/api/v1/poller/status")
        return status if status["consecutiveFailures"] == 0 else None

    status = await eventually(recovered)
    assert status["messagesFetched"] == 1 and status["lastSuccessAt"] > status["lastErrorAt"]
    [ticket] = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    assert ticket["messageCount"] == 1
    await imap.down()


async def _polled(poller: RunningService, tenant: str) -> bool:
    return bool(
        await poller.runtime.pool.fetchval(
            "SELECT last_success_at IS NOT NULL FROM poller_poll_status WHERE tenant_id = $1",
            tenant,
        )
    )


async def _stored(poller: RunningService, tenant: str) -> int:
    count: int = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant
    )
    return count


async def test_mail_in_a_folder_of_no_known_tenant_is_kept_and_counted(
    poller: RunningService, dovecot: MailServer, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    stranger, stranger_address = new_tenant()  # never synced: the MX would refuse it
    raw = relay_mail(stranger_address, "lost?").as_bytes()
    # Mail filed straight into a folder (as a mail store restored from a backup would be).
    await asyncio.to_thread(_lmtp_deliver, dovecot, folder_for(stranger), raw)
    await send(poller, relay_mail(address), address)

    ports = ports_of(poller.runtime)
    found = await scan_quarantine(ports.polls.reading.mailbox, ports.polling.quarantine)
    assert found[folder_for(stranger)] == 1 and folder_for(tenant) not in found
    rows = {r["folder"]: r["messages"] for r in await store.quarantined(poller.runtime.pool)}
    assert rows[folder_for(stranger)] == 1
    reply = await (await poller.operator()).request("keybuzz.poller.quarantine", b"{}", timeout=10)
    assert f'"{folder_for(stranger)}"' in reply.data.decode()
    # Kept: the mail is still there to read once the tenant is known.
    assert len((await folder(imap, stranger)).mails) == 1


def _lmtp_deliver(dovecot: MailServer, target: str, raw: bytes) -> None:
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=10) as lmtp:
        lmtp.sendmail("bounces@amazonses.com", [f"{dovecot.user}+{target}"], raw)


async def test_one_failing_tenant_does_not_hold_up_the_others(
    start_service: StartService, dovecot: MailServer
) -> None:
    poller = await start_service(
        DEFINITION,
        POLL_INTERVAL_SECONDS="1",
        POLL_RETRY_BASE_SECONDS="0.2",
        POLL_RETRY_MAX_SECONDS="1",
        **dovecot.settings,
    )
    (broken, broken_address), (fine, fine_address) = new_tenant(), new_tenant()
    pool = poller.runtime.pool
    # A fault in the real database, for one tenant only: its polls fail at storing.
    await pool.execute(
        f"""
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON poller_external_messages
            FOR EACH ROW WHEN (NEW.tenant_id = '{broken}') EXECUTE FUNCTION refuse();
        """
    )
    # A poll of the broken tenant's empty folder, between its sync and its mail, succeeds:
    # what must never succeed is a poll that reads its mail.
    for tenant, address in ((broken, broken_address), (fine, fine_address)):
        await synced(poller, tenant, address)
        await send(poller, relay_mail(address), address)

    async def fine_stored_while_broken_fails() -> bool:
        fine_status = await get_json(poller, fine, "/api/v1/poller/status")
        broken_status = await get_json(poller, broken, "/api/v1/poller/status")
        return bool(fine_status["lastSuccessAt"]) and broken_status["consecutiveFailures"] >= 2

    await eventually(fine_stored_while_broken_fails)
    status = await get_json(poller, broken, "/api/v1/poller/status")
    assert status["lastError"] == "RaiseError"
    assert "disk full" not in status["lastError"]  # our own words only, never the cause's text
    # Failing, its mail kept for the next poll: nothing stored (a poll of the folder before
    # the mail reached it may have succeeded: no clock here says when LMTP delivered it).
    assert (await get_json(poller, broken, "/api/v1/tickets"))["items"] == []
    failed_at = status["lastErrorAt"]

    await pool.execute("DROP TRIGGER refuse ON poller_external_messages")

    async def recovered() -> bool:
        now = await get_json(poller, broken, "/api/v1/poller/status")
        succeeded = now["lastSuccessAt"]
        return bool(succeeded) and datetime.fromisoformat(succeeded) > datetime.fromisoformat(
            failed_at
        )

    await eventually(recovered)
    [ticket] = (await get_json(poller, broken, "/api/v1/tickets"))["items"]
    assert ticket["messageCount"] == 1


async def test_the_quarantine_scan_lists_more_than_a_thousand_folders(
    private_dovecot: MailServer,
) -> None:
    """LIST answers a line per folder: 1,000 of them in one socket read overflowed
    aioimaplib's recursive parser in bench_poller; the scan reads them with imaplib."""
    conf = Path(private_dovecot.server.spec.command[-1])
    maildir = conf.parent / "mail" / private_dovecot.user / "Maildir"
    await asyncio.to_thread(_make_folders, maildir, 1100)
    account = ImapAccount(
        private_dovecot.host,
        private_dovecot.imap_port,
        private_dovecot.user,
        private_dovecot.password,
    )
    folders = await account.tenant_folders()
    assert len(folders) == 1100
    assert folders["tenant-many00007"] == 1 and folders["tenant-many00008"] == 0
    # Dovecot answers LIST-STATUS (one command); a server without it gets a STATUS per
    # folder: both read the same counts.
    assert await asyncio.to_thread(_counted_one_by_one, private_dovecot) == folders


def _counted_one_by_one(dovecot: MailServer) -> dict[str, int]:
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as imap:
        imap.login(dovecot.user, dovecot.password)
        assert has_list_status(imap)  # so tenant_folders() above took the one-command path
        return {name: _status_messages(imap, name) for name in _list(imap, "tenant-", "")}


def _make_folders(maildir: Path, count: int) -> None:
    """Maildir++ folders written straight to disk (fast), one mail in tenant-many00007."""
    owner = maildir.parent.stat()
    for n in range(count):
        folder = maildir / f".tenant-many{n:05d}"
        for sub in ("", "cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            os.chown(folder / sub, owner.st_uid, owner.st_gid)
    mail = maildir / ".tenant-many00007" / "new" / "1.M1P1.test"
    mail.write_bytes(b"From: a@b.c\r\nSubject: x\r\n\r\nhello\r\n")
    os.chown(mail, owner.st_uid, owner.st_gid)
    os.chown(maildir, owner.st_uid, owner.st_gid)
