"""The MX's envelope, over real SMTP into Dovecot: recipient cap, duplicates, SMTPUTF8, no address logged."""

from __future__ import annotations

import logging
import uuid

import pytest
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.reading.relay_mail import parse
from mailkit import DOMAIN, folder, new_tenant, relay_mail, send, synced
from mx_client import RawSmtp, limit_hits, limit_logs, mx_metrics


async def open_transaction(
    poller: RunningService, sender: str = "bounces@amazonses.com"
) -> RawSmtp:
    smtp = await (await RawSmtp.connect(poller)).greeted()
    assert (await smtp.command(f"MAIL FROM:<{sender}>"))[0] == 250
    return smtp


async def finish(smtp: RawSmtp, mail: bytes) -> tuple[int, str]:
    assert (await smtp.command("DATA"))[0] == 354
    smtp.send(mail.replace(b"\n", b"\r\n"))
    return await smtp.command(".")


async def test_a_recipient_given_500_times_is_delivered_once(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    smtp = await open_transaction(poller)
    for n in range(500):
        spelling = address.upper() if n % 2 else address
        assert (await smtp.command(f"RCPT TO:<{spelling}>"))[0] == 250
    assert (await finish(smtp, relay_mail(address, "once").as_bytes()))[0] == 250
    smtp.close()
    assert [parse(m.raw).text for m in (await folder(imap, tenant)).mails] == ["once"]


async def test_recipients_past_100_get_452_and_the_first_100_get_the_mail(
    poller: RunningService, imap: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    tenant, _ = new_tenant()
    addresses = [f"amazon.{tenant}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}" for _ in range(102)]
    await synced(poller, tenant, *addresses)
    caplog.set_level(logging.WARNING, logger="keybuzz_poller.inbound")
    before = await mx_metrics(poller)
    smtp = await open_transaction(poller)
    answers = [(await smtp.command(f"RCPT TO:<{a}>"))[0] for a in addresses]
    assert answers == [250] * 100 + [452, 452]
    assert (await smtp.command(f"RCPT TO:<{addresses[0]}>"))[0] == 250  # already in: no new one
    assert (await finish(smtp, relay_mail(addresses[0], "to many").as_bytes()))[0] == 250
    smtp.close()

    delivered = {parse(m.raw).inbound_address for m in (await folder(imap, tenant)).mails}
    assert delivered == set(addresses[:100])
    hits = limit_hits(await mx_metrics(poller), "recipients") - limit_hits(before, "recipients")
    assert hits == 2
    # One line for the first hit; the second, within 10 s, waits for the next line.
    [line] = limit_logs(caplog.records, "recipients")
    assert (line.hits, line.client) == (1, "127.0.0.1")


async def test_smtputf8_is_not_offered_and_a_utf8_sender_is_refused_at_mail(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    smtp = await RawSmtp.connect(poller)
    assert (await smtp.reply())[0] == 220
    code, capabilities = await smtp.command("EHLO relay.example")
    assert code == 250 and "SMTPUTF8" not in capabilities.upper()

    # Refused before DATA, never 250 at MAIL and RCPT then an error at DATA.
    declared = await smtp.command("MAIL FROM:<jörg@exämple.de> SMTPUTF8".encode())
    assert declared[0] >= 500
    undeclared = await smtp.command("MAIL FROM:<jörg@exämple.de>".encode())
    assert undeclared[0] >= 500
    assert (await smtp.command("RSET"))[0] == 250

    # UTF-8 in the mail itself (8BITMIME) goes through, envelope in ASCII, to the IMAP read.
    assert (await smtp.command("MAIL FROM:<bounces@amazonses.com> BODY=8BITMIME"))[0] == 250
    assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
    mail = relay_mail(address, "Où est mon colis ? 🚚")
    mail.replace_header("Subject", "Question de l'acheteur Jérôme (Commande : 171-2345678-1234567)")
    assert (await finish(smtp, mail.as_bytes()))[0] == 250
    smtp.close()
    [stored] = [parse(m.raw) for m in (await folder(imap, tenant)).mails]
    assert stored.text == "Où est mon colis ? 🚚"
    assert "Jérôme" in stored.subject


async def test_a_sessions_log_lines_hold_no_envelope_address(
    poller: RunningService, imap: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    token = address.split("@")[0].rsplit(".", 1)[1]
    sender = f"relay-{uuid.uuid4().hex[:8]}@amazonses.com"
    caplog.set_level(logging.DEBUG)  # every logger, at its most talkative

    smtp = await open_transaction(poller, sender)
    assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
    assert (await smtp.command(f"RCPT TO:<{address.replace('@', 'x@')}>"))[0] == 550
    assert (await finish(smtp, relay_mail(address).as_bytes()))[0] == 250
    assert (await smtp.command("QUIT"))[0] == 221
    await send(poller, relay_mail(address), address)
    records = list(caplog.records)  # the sessions' lines, not this test's IMAP read below
    assert len((await folder(imap, tenant)).mails) == 2

    assert sum(r.getMessage() == "inbound mail delivered" for r in records) == 2
    for record in records:
        logged = f"{record.getMessage()} {vars(record)}"
        assert token not in logged, record.getMessage()
        assert sender not in logged, record.getMessage()
