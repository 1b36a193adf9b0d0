"""A buyer's mail is the buyer's unless the marketplace signed it (kit/signed_mail.py),
decided where every relay passes (``DeclaredRelay.sender_type``) on the mail as the
poller's parser reads it. No servers, no DKIM: the relay's verified signatures are the
test's own (the ManoMano and Amazon tests hold the same on real signatures and the MX)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_shared.connectors.kit import OrderIdPattern
from keybuzz_shared.connectors.kit.declared_relay import DeclaredRelay
from keybuzz_shared.connectors.kit.signed_mail import DkimKeys, MailSignature, Signed, covers
from keybuzz_shared.connectors.seam import Limits, ParsedMail, SenderType, attachment_types

SIGNED = ("from", "to", "subject", "date", "message-id", "content-type", "auto-submitted")
VERIFIED: list[MailSignature] = []  # what the test relay's DKIM check finds


def sender_of(mail: ParsedMail, signed: Signed) -> SenderType:
    """The shop's claims: its notices by their automatic marks, its support by its domain."""
    if mail.automatic and mail.buyer_email is None:
        return "SYSTEM" if signed.automatic else "BUYER"
    if (mail.from_address or "").endswith("@support.shop.test"):
        return "MARKETPLACE_SUPPORT" if signed.by else "BUYER"
    return "BUYER"


class ShopKeys(DkimKeys):
    """Keys whose check finds the test's signatures."""

    def verified(self, raw: bytes) -> list[MailSignature]:
        return list(VERIFIED)


class ShopRelay(DeclaredRelay):
    sender_of = sender_of
    signing_domains = frozenset({"shop.test"})
    dkim_keys = ShopKeys("SHOP_DKIM_KEYS")
    address_label = "amazon"  # read as a relay the poller knows; the decision is the kit's
    buyer_address_form = "…@relay.shop.test"
    buyer_address = re.compile(r"@relay\.shop\.test$", re.I)
    name_suffix = re.compile(r"\s*via shop$", re.I)
    order_ids = OrderIdPattern("S[0-9]{5}", "a Shop one")
    attachment_types = attachment_types(".pdf")
    demo_mails = (DeclaredRelay.DemoMail("S12345", ("Ana", "a1@relay.shop.test"), "Hi", "Hello"),)


RELAY = ShopRelay(Limits(max_attachments=1, max_attachment_bytes=9, max_text_length=9, page_size=9))


def mail(*fields: str, sender: str = "alerts@shop.test", auto: bool = True) -> bytes:
    head = [*fields, f"From: Shop <{sender}>", "To: amazon.t1.fr.x@in.test", "Subject: S12345"]
    head += ["Auto-Submitted: auto-generated"] if auto else []
    return ("\r\n".join([*head, "Content-Type: text/plain", "", "Bonjour."]) + "\r\n").encode()


def sender_type(raw: bytes, signed: tuple[str, ...] = SIGNED, domain: str = "shop.test") -> str:
    VERIFIED[:] = [MailSignature(domain=domain, fields=signed)]
    return RELAY.sender_type(parse(raw))


def test_a_notice_the_shop_signed_whole_is_a_system_message() -> None:
    assert sender_type(mail()) == "SYSTEM"
    assert sender_type(mail(sender="help@support.shop.test", auto=False)) == "MARKETPLACE_SUPPORT"


@pytest.mark.parametrize(
    ("raw", "signed", "domain"),
    [
        (mail(), (), "shop.test"),  # no signature verifies: a forged Auto-Submitted
        (mail(), SIGNED, "other.test"),  # another domain's signature
        (mail(sender="alerts@evil.test"), SIGNED, "shop.test"),  # From not the signer's
        (mail(), tuple(f for f in SIGNED if f != "auto-submitted"), "shop.test"),
        (mail(), tuple(f for f in SIGNED if f != "subject"), "shop.test"),
        (mail("Auto-Submitted: auto-generated"), SIGNED, "shop.test"),
        (mail("Subject: Remboursé, ne rien envoyer"), SIGNED, "shop.test"),  # signed twice
        (mail("From: Shop <alerts@shop.test>"), SIGNED + ("from",), "shop.test"),
        (mail("Subject: Remboursé"), SIGNED + ("subject",), "shop.test"),
    ],
)
def test_what_the_shop_did_not_sign_whole_is_the_buyers(
    raw: bytes, signed: tuple[str, ...], domain: str
) -> None:
    assert sender_type(raw, signed, domain) == "BUYER"


def test_a_field_above_those_signed_is_not_covered_as_dkim_counts() -> None:
    counts = parse(mail("Subject: Remboursé")).field_counts
    assert counts["subject"] == 2
    assert not covers(MailSignature(domain="shop.test", fields=SIGNED), counts, ["subject"])
    assert covers(
        MailSignature(domain="shop.test", fields=SIGNED + ("subject",)), counts, ["subject"]
    )


def test_a_doubled_field_makes_the_parsed_mail_not_automatic() -> None:
    assert parse(mail()).automatic is True
    assert parse(mail("From: Shop <alerts@shop.test>")).automatic is False
    assert parse(mail("Auto-Submitted: auto-generated")).automatic is False


def test_support_doubled_is_the_buyers_whatever_its_relay_says() -> None:
    raw = mail("Subject: Remboursé", sender="help@support.shop.test", auto=False)
    assert sender_type(raw, SIGNED + ("subject",)) == "BUYER"


def test_an_amazon_notice_nobody_signed_waits_for_an_answer() -> None:
    """No Amazon signature verifies: its automatic mail is never SYSTEM (never hidden),
    and a "support" mail is anyone's."""
    from keybuzz_poller.inbound.relays import relay_for

    raw = mail(sender="no-reply@amazon.fr")
    message = relay_for("AMAZON").message(parse(raw), datetime(2026, 1, 1, tzinfo=UTC))
    assert message.sender_type == "BUYER"
    support = mail(sender="seller-support@amazon.fr", auto=False)
    message = relay_for("AMAZON").message(parse(support), datetime(2026, 1, 1, tzinfo=UTC))
    assert message.sender_type == "BUYER"
