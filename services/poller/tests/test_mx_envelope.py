"""The MX's envelope, over real SMTP into Dovecot: recipient cap, duplicates, SMTPUTF8, no address logged."""

from __future__ import annotations

import logging
import random
import uuid

import pytest
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.inbound.addresses import with_bounce_tag
from keybuzz_poller.inbound.bounce_auth import bounce_address
from keybuzz_poller.reading.mailbox import ImapAccount, NewMail
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


def addresses_of(tenant: str, count: int) -> list[str]:
    return [f"amazon.{tenant}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}" for _ in range(count)]


def inbound_addresses(mails: NewMail) -> list[str | None]:
    return [parse(m.raw).inbound_address for m in mails.mails]


async def test_recipients_past_100_get_452_and_each_folder_gets_the_mail_once(
    poller: RunningService, imap: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    (first, _), (second, _) = new_tenant(), new_tenant()
    of_first, of_second = addresses_of(first, 51), addresses_of(second, 51)
    await synced(poller, first, *of_first)
    await synced(poller, second, *of_second)
    addresses = [a for pair in zip(of_first, of_second, strict=True) for a in pair]
    caplog.set_level(logging.WARNING, logger="keybuzz_poller.inbound")
    before = await mx_metrics(poller)
    smtp = await open_transaction(poller)
    answers = [(await smtp.command(f"RCPT TO:<{a}>"))[0] for a in addresses]
    assert answers == [250] * 100 + [452, 452]
    assert (await smtp.command(f"RCPT TO:<{addresses[0]}>"))[0] == 250  # already in: no new one
    assert (await finish(smtp, relay_mail(addresses[0], "to many").as_bytes()))[0] == 250
    smtp.close()

    # 50 recipients each deliver to one folder: one copy there, for the first of them.
    assert inbound_addresses(await folder(imap, first)) == [of_first[0]]
    assert inbound_addresses(await folder(imap, second)) == [of_second[0]]
    hits = limit_hits(await mx_metrics(poller), "recipients") - limit_hits(before, "recipients")
    assert hits == 2
    # One line for the first hit; the second, within 10 s, waits for the next line.
    [line] = limit_logs(caplog.records, "recipients")
    assert (line.hits, line.client) == (1, "127.0.0.1")


async def test_spellings_of_one_recipient_take_one_place_under_the_cap(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    others = addresses_of(tenant, 100)
    await synced(poller, tenant, address, *others)
    before = await mx_metrics(poller)
    spellings = [address, address.upper(), address.capitalize(), address.title()]
    smtp = await open_transaction(poller)
    answers = [(await smtp.command(f"RCPT TO:<{to}>"))[0] for to in [*spellings, *others]]
    # One place for the four spellings, 99 for the others: the 100th other is the 101st recipient.
    assert answers == [250] * (len(spellings) + 99) + [452]
    assert (await finish(smtp, relay_mail(address, "once").as_bytes()))[0] == 250
    smtp.close()
    assert inbound_addresses(await folder(imap, tenant)) == [address]
    hits = limit_hits(await mx_metrics(poller), "recipients") - limit_hits(before, "recipients")
    assert hits == 1


def bounce_tag(address: str, signed_with: bytes | None = None) -> str:
    """``address`` tagged as a reply's envelope sender, for a reply of its own; signed as the
    poller signs (``signed_with``: its key) or with 16 characters of the right form."""
    if signed_with is not None:
        return bounce_address(address, str(uuid.uuid4()), signed_with)
    signature = "".join(random.choices("abcdefghijklmnopqrstuvwxyz234567", k=16))
    return with_bounce_tag(address, uuid.uuid4().hex, signature)


async def test_bounce_tags_the_mx_did_not_sign_are_refused_and_multiply_nothing(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    smtp = await open_transaction(poller, "")
    assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
    answers = [(await smtp.command(f"RCPT TO:<{bounce_tag(address)}>"))[0] for _ in range(150)]
    assert set(answers) == {550}  # what any address that is not ours gets
    assert (await finish(smtp, relay_mail(address, "once").as_bytes()))[0] == 250
    smtp.close()
    assert inbound_addresses(await folder(imap, tenant)) == [address]


async def test_recipients_of_one_folder_are_one_delivery(
    poller: RunningService, imap: ImapAccount
) -> None:
    tenant, address = new_tenant()
    [other] = addresses_of(tenant, 1)  # another address of the same tenant
    await synced(poller, tenant, address, other)
    key = poller.runtime.settings.bounce_signing_keys[0]
    # As if 150 replies had been sent: each tag genuinely signed, each for the same folder.
    tagged = [bounce_tag(address, signed_with=key) for _ in range(150)]
    smtp = await open_transaction(poller, "")
    answers = [(await smtp.command(f"RCPT TO:<{to}>"))[0] for to in [address, other, *tagged]]
    assert answers == [250] * 100 + [452] * 52  # each counts against the cap
    assert (await finish(smtp, relay_mail(address, "once").as_bytes()))[0] == 250
    smtp.close()
    assert inbound_addresses(await folder(imap, tenant)) == [address]


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
