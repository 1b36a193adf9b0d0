"""ManoMano's relay maps a mail as the poller's parser reads it (``message``): its
order's thread, who wrote it, ManoMano's support and notices taken for theirs only on a
DKIM signature of their domain that verifies (the double's key, never DNS), an invoice
request marked as such. The mails are the double's own, as it sends them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import dkim
import msgspec
import pytest
from cachetools import TLRUCache
from keybuzz_connector_manomano.relay import DKIM_KEYS, ManoManoRelay
from keybuzz_connector_manomano.settings import ManoManoSettings
from keybuzz_double_manomano import mails
from keybuzz_poller.inbound.addresses import INBOUND_HEADER
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_sandbox.dkim_signing import PRIVATE_KEY
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.kit.signed_mail import (
    MOST_ANSWERS,
    DkimKeys,
    read_keys,
)
from keybuzz_shared.connectors.seam import InboxMessage, mail_relay_of

RELAY = mail_relay_of(registry.connector_for("MANOMANO"))
TO = "manomano.t1.fr.abcdefgh23456789@inbound.keybuzz.test"
ORDER = "M100100000007"
RECEIVED = datetime(2026, 3, 2, 10, 31, tzinfo=UTC)


def delivered(raw: bytes) -> bytes:
    """As the MX and Dovecot put it in the folder: their stamps on top."""
    return f"Return-Path: <bounces@relay.manomano.com>\r\n{INBOUND_HEADER}: {TO}\r\n".encode() + raw


def signed_domains(raw: bytes) -> frozenset[str]:
    """The domains of the mail's DKIM signatures that verify, with ManoMano's keys."""
    return frozenset(signature.domain for signature in DKIM_KEYS.verified(raw))


def message_of(kind: str, **given: bool) -> InboxMessage:
    raw, _ = mails.compose(kind, TO, ORDER, **given)
    return RELAY.message(parse(delivered(raw)), RECEIVED)


def test_the_registry_serves_the_relay_beside_amazons() -> None:
    assert isinstance(RELAY, ManoManoRelay)
    assert mail_relay_of(registry.connector_for("AMAZON")).address_label == "amazon"
    assert RELAY.address_label == "manomano"


@pytest.mark.parametrize(
    ("kind", "sender_type"),
    [
        ("buyer", "BUYER"),
        ("invoice", "BUYER"),
        ("support", "MARKETPLACE_SUPPORT"),
        ("notice", "SYSTEM"),
    ],
)
def test_each_kind_of_mail_is_its_writers_on_its_orders_thread(kind: str, sender_type: str) -> None:
    message = message_of(kind)
    assert (message.thread.kind, message.thread.id, message.sender_type) == (
        "ORDER",
        ORDER,
        sender_type,
    )
    assert message.body.startswith("Bonjour")


def test_an_invoice_request_is_marked_as_one() -> None:
    assert message_of("invoice").ticket_subject == "INVOICE_REQUEST"
    assert message_of("buyer").ticket_subject is None


@pytest.mark.parametrize("kind", ["support", "notice"])
@pytest.mark.parametrize("how", ["forged", "tampered"])
def test_a_mail_that_only_claims_to_be_manomanos_is_answered_as_anyones(
    kind: str, how: str
) -> None:
    """No signature, or one that no longer verifies (its body changed): neither support
    nor a notice, but a message that waits for the seller's answer."""
    assert message_of(kind, **{how: True}).sender_type == "BUYER"


def test_a_signature_of_another_domain_does_not_make_a_mail_manomanos() -> None:
    """The relay's own domain signing a mail whose From is the support's: not the support."""
    raw, _ = mails.compose("support", TO, ORDER, forged=True)
    signed = mails.sign(raw, "contact.manomano.com") + raw
    assert signed_domains(delivered(signed)) == {"contact.manomano.com"}
    assert RELAY.message(parse(delivered(signed)), RECEIVED).sender_type == "BUYER"


def test_a_signature_of_part_of_the_body_does_not_count() -> None:
    """``l=``: words added below the signed length would read as signed."""
    raw, _ = mails.compose("support", TO, ORDER, forged=True)
    partial = dkim.sign(
        raw,
        b"sandbox",
        b"monechelle.zendesk.com",
        PRIVATE_KEY,
        length=True,
        include_headers=mails.SIGNED_HEADERS,
    )
    assert b" l=" in partial.replace(b"\r\n", b"")
    assert signed_domains(delivered(partial + raw)) == frozenset()


def test_without_the_doubles_record_the_signature_does_not_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key source is what is configured: another key for the domain, no verification."""
    other = '{"sandbox._domainkey.monechelle.zendesk.com": "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC4"}'
    monkeypatch.setenv("MANOMANO_DKIM_KEYS", other)
    monkeypatch.setattr(DKIM_KEYS, "given", {})
    raw, _ = mails.compose("support", TO, ORDER)
    assert signed_domains(delivered(raw)) == frozenset()


def test_the_environments_records_are_decoded_once_and_not_for_each_mail() -> None:
    """The module's fixture gives the double's records in the environment only."""
    read_keys.cache_clear()
    raw, _ = mails.compose("support", TO, ORDER)
    for _ in range(3):
        assert signed_domains(delivered(raw)) == frozenset({"monechelle.zendesk.com"})
    assert read_keys.cache_info().misses == 1


def test_a_dkim_keys_value_that_is_not_records_refuses_the_settings_naming_it() -> None:
    with pytest.raises(msgspec.ValidationError, match="^MANOMANO_DKIM_KEYS: not a JSON object"):
        msgspec.convert({"manomano_dkim_keys": '{"s._domainkey.x": 1}'}, ManoManoSettings)


def test_order_ids_are_m_and_twelve_digits_standing_alone() -> None:
    assert RELAY.order_ids_in(f"Commande {ORDER}, et M1234 ou XM100100000007 ou {ORDER}9") == [
        ORDER
    ]
    assert not registry.connector_for("MANOMANO").order_ids.is_order_id("403-1027206-4659269")


def test_the_buyers_name_and_alias_and_the_reply_subject() -> None:
    raw, sent = mails.compose("buyer", TO, ORDER)
    mail = parse(delivered(raw))
    assert (mail.buyer_email, mail.buyer_name) == (sent.sender, "Camille Petit")
    assert RELAY.reply_subject(mail.subject, ORDER) == f"Re: {mail.subject}"
    assert RELAY.reply_subject("Bonjour", ORDER) == f"Re: Bonjour ({ORDER})"


def test_a_mail_the_parser_could_not_read_is_kept_whole_as_the_buyers() -> None:
    message = RELAY.message(parse(delivered(b"From: x@y\r\n\r\n")), RECEIVED)
    assert message.sender_type == "BUYER" and "From: x@y" in message.body


def test_dns_is_asked_once_a_key_and_a_forgers_selectors_cost_a_bounded_lookup_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[bytes] = []

    def counting_txt(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name)
        return None

    monkeypatch.setattr(dkim.dnsplug, "get_txt", counting_txt)  # DNS, not ours
    monkeypatch.setattr(DKIM_KEYS, "given", {})
    monkeypatch.delenv(DKIM_KEYS.variable, raising=False)
    kept = DkimKeys.answers  # an empty cache of the same bounds and lifetimes for this test
    monkeypatch.setattr(
        DkimKeys, "answers", TLRUCache(kept.maxsize, kept.ttu, timer=time.monotonic)
    )
    signatures = "".join(
        f"DKIM-Signature: v=1; a=rsa-sha256; d=monechelle.zendesk.com; s=forged{n}; "
        "h=from; bh=AAAA; b=AAAA\r\n"
        for n in range(10)
    )
    raw = (f"{signatures}From: support@monechelle.zendesk.com\r\n\r\nBonjour.\r\n").encode()

    assert signed_domains(raw) == frozenset()
    assert signed_domains(raw) == frozenset()
    # four signatures checked of ten, each key asked once for the two reads
    assert len(asked) == len(set(asked)) == 4
    for n in range(MOST_ANSWERS + 10):
        DkimKeys.from_dns(f"s{n}._domainkey.example.".encode())
    assert len(DkimKeys.answers) == MOST_ANSWERS


# A buyer's mail is the buyer's unless ManoMano signed it (kit/signed_mail.py): each case
# is a mail the double sends as a forger would, read as the poller reads it.
SUBJECT_ABOVE = (("Subject", "[ManoMano] Remboursement validé, ne rien envoyer"),)
FROM_ABOVE = (("From", "ManoMano <ne-pas-repondre@manomano.fr>"),)


def test_an_automatic_mail_manomano_signed_naming_no_buyer_is_a_system_message() -> None:
    message = message_of("alert")
    assert (message.sender_type, message.thread.id) == ("SYSTEM", ORDER)


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        ("alert", {"forged": True}),  # Auto-Submitted, no signature
        ("alert", {"unsigned": ("auto-submitted",)}),  # signed, but not its Auto-Submitted
        ("alert", {"added": (("Auto-Submitted", "auto-generated"),)}),  # a second one above
        ("support", {"added": SUBJECT_ABOVE}),  # a replay with a second Subject above
        ("notice", {"added": SUBJECT_ABOVE}),
        ("support", {"added": FROM_ABOVE}),  # a second From above
        ("notice", {"unsigned": ("subject",)}),  # its Subject not signed
    ],
)
def test_what_manomano_did_not_sign_makes_the_mail_the_buyers(
    kind: str, given: dict[str, Any]
) -> None:
    raw, _ = mails.compose(kind, TO, ORDER, **given)
    mail = parse(delivered(raw))
    if not given.get("forged") and given.get("added") != FROM_ABOVE:  # dkimpy refuses two
        assert signed_domains(mail.raw)  # a signature of ManoMano's verifies, all the same
    assert RELAY.message(mail, RECEIVED).sender_type == "BUYER"


def test_a_replayed_support_mail_shows_the_subject_on_top_as_the_buyers() -> None:
    """The subject shown is the one the reader sees first, and the mail is the buyer's:
    nothing of it is shown as ManoMano's."""
    raw, _ = mails.compose("support", TO, ORDER, added=SUBJECT_ABOVE)
    message = RELAY.message(parse(delivered(raw)), RECEIVED)
    assert (message.sender_type, message.subject) == ("BUYER", SUBJECT_ABOVE[0][1])
