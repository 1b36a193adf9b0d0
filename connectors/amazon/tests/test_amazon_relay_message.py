"""Amazon's relay maps a parsed relay mail to the seam's ``InboxMessage`` (``message``):
its order's thread, who wrote it, the buyer's words and files, when it was written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from keybuzz_double_amazon import notices
from keybuzz_double_amazon.env import service_env
from keybuzz_poller.inbound.addresses import INBOUND_HEADER
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import InboxFile, InboxMessage, ThreadKey, mail_relay_of

RELAY = mail_relay_of(registry.connector_for("AMAZON"))
INBOUND = "amazon.t1.fr.token@inbound.test"
ORDER = "403-1027206-4659269"
WRITTEN = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 2, 10, 31, tzinfo=UTC)


def _mail(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg[INBOUND_HEADER] = INBOUND
    msg["From"] = sender
    msg["To"] = INBOUND
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@relay.amazon.fr>"
    msg["Date"] = format_datetime(WRITTEN)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


def _buyer_mail() -> EmailMessage:
    return _mail(
        "Jules Roux - Amazon Marketplace <16dqebw7zz5vki28@marketplace.amazon.fr>",
        f"Demande de renseignements (Commande : {ORDER})",
        "------------- Début du message -------------\n\n"
        "Où est mon colis ?\n\n"
        "------------- Fin du message -------------\n\n"
        f"Numéro de commande : {ORDER}\n",
    )


def _message(msg: EmailMessage | bytes) -> InboxMessage:
    return RELAY.message(parse(msg if isinstance(msg, bytes) else msg.as_bytes()), RECEIVED)


def test_a_buyers_mail_is_a_buyer_message_on_its_orders_thread() -> None:
    assert _message(_buyer_mail()) == InboxMessage(
        message_id="<m1@relay.amazon.fr>",
        thread=ThreadKey("ORDER", ORDER),
        sender_type="BUYER",
        sender_name="Jules Roux",
        subject=f"Demande de renseignements (Commande : {ORDER})",
        body="Où est mon colis ?",
        created_at=WRITTEN,
        unread=True,
    )


def test_a_buyers_files_are_the_messages_files_without_a_link() -> None:
    msg = _buyer_mail()
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="photo.pdf")
    msg.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="colis.png")
    assert _message(msg).files == (
        InboxFile(name="photo.pdf", url="", content_type="application/pdf"),
        InboxFile(name="colis.png", url="", content_type="image/png"),
    )


def test_an_automatic_answer_from_a_buyers_alias_is_still_the_buyers() -> None:
    msg = _buyer_mail()
    msg["Auto-Submitted"] = "auto-replied"
    message = _message(msg)
    assert (message.sender_type, message.sender_name) == ("BUYER", "Jules Roux")


def test_an_unsigned_notification_is_answered_as_the_buyers_on_no_thread() -> None:
    """No Amazon signature is checked (kit/signed_mail.py): a mail from an address
    nobody answers is shown as waiting, never hidden as a notice (anyone can write it)."""
    message = _message(
        _mail("Amazon <no-reply@amazon.fr>", "Votre rapport est prêt", "Rapport disponible.")
    )
    assert (message.sender_type, message.sender_name) == ("BUYER", None)
    assert message.thread == ThreadKey("ORDER", "") and message.thread.order == ""


def test_an_unsigned_support_mail_is_the_buyers() -> None:
    """Anyone can write from "seller-support@amazon.fr": unsigned, it is nobody's."""
    message = _message(
        _mail(
            "Service vendeurs <seller-support@amazon.fr>",
            f"Au sujet de la commande {ORDER}",
            "Merci de répondre à l'acheteur.",
        )
    )
    assert (message.sender_type, message.sender_name) == ("BUYER", None)
    assert message.thread == ThreadKey("ORDER", ORDER)


def _delivered(raw: bytes) -> InboxMessage:
    return RELAY.message(parse(f"{INBOUND_HEADER}: {INBOUND}\r\n".encode() + raw), RECEIVED)


def test_a_notice_amazon_signed_is_a_system_message_no_one_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The double's signed notice: SYSTEM (hidden as needing no answer); its support
    mail: Amazon's support. Without Amazon's signing domains, both are the buyer's."""
    monkeypatch.setenv("AMAZON_DKIM_KEYS", service_env("")["AMAZON_DKIM_KEYS"])
    notice = _delivered(notices.compose("notice", INBOUND, ORDER))
    assert (notice.sender_type, notice.thread) == ("SYSTEM", ThreadKey("ORDER", ORDER))
    support = _delivered(notices.compose("support", INBOUND, ORDER))
    assert support.sender_type == "MARKETPLACE_SUPPORT"


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (lambda raw: raw, "nobody signed it"),
        (lambda raw: b"Subject: Remboursement accorde\r\n" + raw, "a subject above the signed"),
        (lambda raw: b"From: Amazon <no-reply@amazon.fr>\r\n" + raw, "From doubled"),
        (lambda raw: b"Reply-To: x@forger.test\r\n" + raw, "a Reply-To not signed"),
    ],
)
def test_a_notice_not_wholly_signed_by_amazon_waits_for_an_answer(
    monkeypatch: pytest.MonkeyPatch, forge: Callable[[bytes], bytes], why: str
) -> None:
    monkeypatch.setenv("AMAZON_DKIM_KEYS", service_env("")["AMAZON_DKIM_KEYS"])
    raw = notices.compose("notice", INBOUND, ORDER, signed=why != "nobody signed it")
    assert _delivered(forge(raw)).sender_type == "BUYER", why


def test_a_mail_the_parser_cannot_read_is_kept_whole_as_a_buyers() -> None:
    raw = b"not a mail at all\x00\xff"
    parsed = parse(raw)
    assert parsed.parse_error is not None
    message = RELAY.message(parsed, RECEIVED)
    assert message.sender_type == "BUYER"
    assert message.body == parsed.raw_text  # nothing dropped: an agent reads the mail
    assert message.message_id == parsed.external_id  # the digest: the same mail, the same id
    assert message.created_at == RECEIVED  # no Date to go by


def test_a_mail_without_a_date_was_written_when_received() -> None:
    msg = _buyer_mail()
    del msg["Date"]
    assert _message(msg).created_at == RECEIVED
