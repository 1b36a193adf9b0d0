"""Failures: IMAP down (recorded, retried with back-off, recovered), mail of unknown tenants kept."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable

from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller import store
from keybuzz_poller.inbound import folder_for
from keybuzz_poller.mailbox import ImapAccount
from keybuzz_poller.polling import scan_quarantine
from keybuzz_poller.service import DEFINITION
from mailkit import folder, get_json, headers, new_tenant, relay_mail, send, synced

StartService = Callable[..., Awaitable[RunningService]]


async def test_imap_outage_is_recorded_retried_and_recovered(
    start_service: StartService, private_dovecot: MailServer
) -> None:
    poller = await start_service(
        DEFINITION,
        POLL_INTERVAL_SECONDS="1",
        POLL_RETRY_BASE_SECONDS="0.2",
        POLL_RETRY_MAX_SECONDS="1",
        **private_dovecot.settings,
    )
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address, "sent before the outage"), address)
    private_dovecot.server.stop()

    async with poller.client() as http:
        response = await http.post("/api/v1/poller/poll", headers=headers(poller, tenant))
    assert response.status_code == 503 and response.json()["error"] == "unavailable"

    async def failing_again() -> dict[str, object] | None:
        status = await get_json(poller, tenant, "/api/v1/poller/status")
        return status if status["consecutiveFailures"] >= 3 else None

    status = await eventually(failing_again)  # the scheduler keeps retrying, backing off
    assert "IMAP" in str(status["lastError"]) and status["lastSuccessAt"] is None
    assert status["lastErrorAt"] is not None

    private_dovecot.server.start(timeout=30)

    async def recovered() -> dict[str, object] | None:
        status = await get_json(poller, tenant, "/api/v1/poller/status")
        return status if status["lastSuccessAt"] else None

    status = await eventually(recovered)
    assert status["consecutiveFailures"] == 0 and status["messagesFetched"] == 1
    [ticket] = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    assert ticket["messageCount"] == 1


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

    found = await scan_quarantine(poller.runtime)
    assert found[folder_for(stranger)] == 1 and folder_for(tenant) not in found
    rows = {r["folder"]: r["messages"] for r in await store.quarantined(poller.runtime.pool)}
    assert rows[folder_for(stranger)] == 1
    reply = await poller.runtime.nc.request("keybuzz.poller.quarantine", b"{}", timeout=10)
    assert f'"{folder_for(stranger)}"' in reply.data.decode()
    # Kept: the mail is still there to read once the tenant is known.
    assert len((await folder(imap, stranger)).mails) == 1


def _lmtp_deliver(dovecot: MailServer, target: str, raw: bytes) -> None:
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=10) as lmtp:
        lmtp.sendmail("bounces@amazonses.com", [f"{dovecot.user}+{target}"], raw)
