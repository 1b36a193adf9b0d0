"""The parts of Amazon's connector the poller asks (keybuzz_shared.connectors.seam): its mail
relay (buyers, orders, subjects, replies' rules, demo mails) and its response window."""

from __future__ import annotations

from datetime import timedelta

from keybuzz_poller.inbound.addresses import INBOUND_HEADER
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import mail_relay_of

AMAZON = registry.connector_for("AMAZON")


def test_amazons_relay_knows_its_buyers_orders_and_subjects() -> None:
    relay = mail_relay_of(AMAZON)
    assert relay.address_label == "amazon"
    assert relay.is_buyer_address("16dqebw7zz5vki28@marketplace.amazon.fr")
    assert relay.is_buyer_address("X@MARKETPLACE.AMAZON.CO.UK")
    assert not relay.is_buyer_address("someone@amazon.fr")
    assert relay.buyer_name("Jules Roux - Amazon Marketplace") == "Jules Roux"
    assert relay.buyer_name(" - Marketplace") is None
    assert relay.order_ids_in("Commande : 403-1027206-4659269, 1403-1027206-4659269") == [
        "403-1027206-4659269"
    ]
    # The order id stays in a reply's subject (Amazon files the reply by it), never twice.
    assert relay.reply_subject("Question", "403-1027206-4659269") == (
        "Re: Question (Order: 403-1027206-4659269)"
    )
    assert relay.reply_subject("RE:  Question (403-1027206-4659269)", "403-1027206-4659269") == (
        "RE: Question (403-1027206-4659269)"
    )
    assert relay.reply_subject("", None) == "Re:"
    rules = relay.reply_rules
    assert (rules.max_attachment_bytes, rules.max_attachments) == (10 * 1024 * 1024, 20)
    assert rules.max_text_chars == AMAZON.limits.max_text_length
    assert rules.attachment_types[".pdf"] == frozenset({"application/pdf"})


def test_amazons_demo_mails_read_as_relay_mails() -> None:
    relay = mail_relay_of(AMAZON)
    mails = [
        parse(relay.demo_mail("t1", i, "inbound.test", INBOUND_HEADER))
        for i in range(relay.demo_mail_count)
    ]
    assert len(mails) == 5 and all(m.parse_error is None for m in mails)
    assert {(m.marketplace, m.country) for m in mails} == {("AMAZON", "FR")}
    assert all(m.order_id and m.buyer_name and m.text for m in mails)
    assert relay.demo_mail("t1", 0, "inbound.test", INBOUND_HEADER) == relay.demo_mail(
        "t1", 0, "inbound.test", INBOUND_HEADER
    )


def test_amazons_response_window_is_24_hours_with_a_seller_central_link() -> None:
    window = AMAZON.response_window
    assert window is not None and window.rule.window == timedelta(hours=24)
    mark = window.mark("403-1027206-4659269", "FR")
    assert mark.url == "https://sellercentral.amazon.fr/orders-v3/order/403-1027206-4659269"
    assert not mark.synced
    assert window.mark(None, "FR").url is None
    assert "unknown marketplace ZZ" in window.mark("403-1027206-4659269", "ZZ").note
