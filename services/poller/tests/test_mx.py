"""The MX over real SMTP, into the real Dovecot over LMTP, against the projection from JetStream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiosmtplib
import httpx
import pytest
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_poller.service import DEFINITION
from mailkit import (
    MAX_MESSAGE_BYTES,
    archived,
    folder,
    new_tenant,
    relay_mail,
    send,
    synced,
    synced_and_ignored,
)


async def test_mail_for_two_tenants_lands_in_each_tenants_folder(
    poller: RunningService, imap: ImapAccount
) -> None:
    (first, first_address), (second, second_address) = new_tenant(), new_tenant()
    await synced(poller, first, first_address)
    await synced(poller, second, second_address)

    await send(poller, relay_mail(first_address, "first tenant's buyer"), first_address)
    await send(poller, relay_mail(second_address, "second tenant's buyer"), second_address)
    await send(poller, relay_mail(second_address, "again the second"), second_address.upper())

    first_mail = [parse(m.raw) for m in (await folder(imap, first)).mails]
    second_mail = [parse(m.raw) for m in (await folder(imap, second)).mails]
    assert [m.text for m in first_mail] == ["first tenant's buyer"]
    assert [m.text for m in second_mail] == ["second tenant's buyer", "again the second"]
    assert {m.inbound_address for m in second_mail} == {second_address}
    assert first_mail[0].country == "FR"


async def test_unknown_recipient_is_refused_at_rcpt(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    for stranger in (address.replace("@", "x@"), f"postmaster@{'inbound.keybuzz.test'}", "a@b.c"):
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await send(poller, relay_mail(stranger), stranger)
        assert refused.value.code == 550
    assert (await folder(imap, tenant)).mails == []


async def test_archived_tenant_and_disabled_address_are_refused(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address), address)  # accepted while active

    await archived(poller, tenant)
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await send(poller, relay_mail(address), address)
    assert refused.value.code == 550

    # An older tenant.synced (overtaken, redelivered) does not bring the tenant back.
    operator = (await poller.operator()).jetstream()  # the poller's own user may not say it
    await operator.publish("tenant.synced", b"{}")  # undecodable: dead-lettered, harmless
    stale = datetime.now(UTC) - timedelta(hours=1)
    await synced_and_ignored(poller, tenant, address, stale)
    with pytest.raises(aiosmtplib.SMTPRecipientRefused):
        await send(poller, relay_mail(address), address)

    # tenant-sync disables the addresses of an archived tenant; un-archived, they come back.
    other, other_address = new_tenant()
    await synced(poller, other, other_address, address_status="DISABLED")
    with pytest.raises(aiosmtplib.SMTPRecipientRefused):
        await send(poller, relay_mail(other_address), other_address)
    await synced(poller, tenant, address, status="ACTIVE", address_status="ACTIVE")
    await send(poller, relay_mail(address), address)
    assert len((await folder(imap, tenant)).mails) == 2


async def test_oversized_mail_is_refused_with_552(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(poller, relay_mail(address, "x" * (MAX_MESSAGE_BYTES + 1000)), address)
    assert refused.value.code == 552
    await send(poller, relay_mail(address, "small"), address)
    assert [parse(m.raw).text for m in (await folder(imap, tenant)).mails] == ["small"]


async def with_own_dovecot(
    start_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> tuple[RunningService, ImapAccount, str, str]:
    """A poller on a Dovecot the test may stop, its IMAP account, and a tenant it knows."""
    poller = await start_service(DEFINITION, **dovecot.settings)
    imap = ImapAccount(dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password)
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    return poller, imap, tenant, address


async def test_250_only_after_dovecot_stored_the_mail(
    start_service: Callable[..., Awaitable[RunningService]], private_dovecot: MailServer
) -> None:
    poller, imap, tenant, address = await with_own_dovecot(start_service, private_dovecot)

    private_dovecot.server.stop()
    with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
        await send(poller, relay_mail(address, "while down"), address)
    assert deferred.value.code == 451  # temporary: the sending MTA keeps the mail and retries

    private_dovecot.server.start(timeout=30)
    await send(poller, relay_mail(address, "while down"), address)  # the retry
    assert [parse(m.raw).text for m in (await folder(imap, tenant)).mails] == ["while down"]


async def lmtp_sessions_opened(poller: RunningService) -> float:
    return await poller.metric("keybuzz_poller_mx_lmtp_sessions_opened_total{")


async def test_lmtp_sessions_are_kept_and_one_closed_by_a_dovecot_restart_is_replaced(
    start_service: Callable[..., Awaitable[RunningService]], private_dovecot: MailServer
) -> None:
    poller, imap, tenant, address = await with_own_dovecot(start_service, private_dovecot)
    before = await lmtp_sessions_opened(poller)
    for n in range(3):  # one after the other: one session carries them all
        await send(poller, relay_mail(address, f"kept {n}"), address)
    assert await lmtp_sessions_opened(poller) == before + 1

    private_dovecot.server.stop()  # closes the kept session from Dovecot's side
    private_dovecot.server.start(timeout=30)
    await send(poller, relay_mail(address, "after the restart"), address)  # 250, not 451
    assert await lmtp_sessions_opened(poller) == before + 2
    texts = [parse(m.raw).text for m in (await folder(imap, tenant)).mails]
    assert texts == ["kept 0", "kept 1", "kept 2", "after the restart"]


async def test_sandbox_relay_mail_reaches_the_tenant_folder(
    poller: RunningService, imap: ImapAccount, sandbox_url: str
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox:
        response = await sandbox.post(
            "/_sandbox/messages",
            json={
                "sellingPartnerId": "A12BCIS2R7HD4D",
                "to": address,
                "count": 2,
                "smtpHost": "127.0.0.1",
                "smtpPort": poller.runtime.settings.mx_port,
            },
        )
    assert response.status_code == 200, response.text
    sent = response.json()["sent"]
    mails = [parse(m.raw) for m in (await folder(imap, tenant)).mails]
    assert [(m.message_id, m.order_id) for m in mails] == [
        (s["messageId"], s["orderId"]) for s in sent
    ]
    for mail, original in zip(mails, sent, strict=True):
        assert mail.parse_error is None
        assert mail.buyer_email == original["sender"].rsplit("<", 1)[-1].rstrip(">").lower()
        assert mail.buyer_email.endswith("@marketplace.amazon.fr")
        assert (mail.marketplace, mail.country) == ("AMAZON", "FR")
        assert mail.text.startswith("Bonjour")
