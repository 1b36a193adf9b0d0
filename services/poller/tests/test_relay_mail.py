"""relay_mail.parse on real-looking Amazon relay mails: pure and fast."""

from __future__ import annotations

import base64
from email.message import EmailMessage

from keybuzz_poller.reading.relay_mail import html_to_text, parse

INBOUND = "amazon.ecomlg-001.fr.abcdefghijklmnop@inbound.keybuzz.test"
BUYER = "k4x9z2m7q1w3e5r@marketplace.amazon.fr"
ORDER = "402-1234567-7654321"
FR_BODY = (
    "------------- Début du message -------------\n\n"
    "Bonjour, le colis n'est toujours pas arrivé. Pouvez-vous vérifier le suivi ?\n\n"
    "------------- Fin du message -------------\n\n"
    f"Numéro de commande : {ORDER}\nArticle : Chaussettes\nQuantité : 1\n\n"
    "Cordialement,\nService Client Amazon.fr\n"
)


def relay(
    body: str = FR_BODY, charset: str = "utf-8", cte: str = "quoted-printable"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Jean - Amazon Marketplace <{BUYER}>"
    message["To"] = "seller@example.com"  # forwarded by the seller: To is not the inbound address
    message["Subject"] = (
        f"Demande de renseignements de la part du client Amazon Jean (Commande : {ORDER})"
    )
    message["Date"] = "Sat, 22 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = "<0102019abc@eu-west-1.amazonses.com>"
    message.set_content(body, charset=charset, cte=cte)
    return message


def stamped(message: EmailMessage | bytes, address: str = INBOUND) -> bytes:
    """As the MX files it: its header on top."""
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return f"X-KeyBuzz-Inbound-Address: {address}\r\n".encode() + raw


def test_a_french_relay_mail_gives_every_field() -> None:
    mail = parse(stamped(relay()))
    assert mail.parse_error is None
    assert mail.message_id == "<0102019abc@eu-west-1.amazonses.com>"
    assert mail.order_id == ORDER
    assert mail.buyer_email == BUYER and mail.buyer_name == "Jean"
    assert mail.subject.startswith("Demande de renseignements") and ORDER in mail.subject
    assert (
        mail.text == "Bonjour, le colis n'est toujours pas arrivé. Pouvez-vous vérifier le suivi ?"
    )
    assert mail.quoted == ""
    assert (mail.marketplace, mail.country, mail.inbound_address) == ("AMAZON", "FR", INBOUND)
    assert mail.sent_at is not None and mail.sent_at.year == 2026
    assert mail.external_id == mail.message_id


def test_the_mx_header_on_top_wins_over_a_forged_one_below() -> None:
    forged = relay()
    forged["X-KeyBuzz-Inbound-Address"] = (
        "amazon.other-tenant.de.zzzzzzzzzzzzzzzz@inbound.keybuzz.test"
    )
    mail = parse(stamped(forged))
    assert (mail.inbound_address, mail.country) == (INBOUND, "FR")


def test_iso_8859_1_and_windows_1252_bodies_are_decoded() -> None:
    german = relay(
        "------------- Beginn der Nachricht -------------\nHallo, wann kommt das Paket? Grüße\n"
        "------------- Ende der Nachricht -------------\n",
        charset="iso-8859-1",
    )
    assert parse(stamped(german)).text == "Hallo, wann kommt das Paket? Grüße"
    # windows-1252 labelled as ISO-8859-1 (common): 0x80 is the euro sign, 0x92 a quote.
    raw = stamped(relay("x", charset="iso-8859-1", cte="8bit")).replace(
        b"\nx\n", "\nIl manque 5 \x80 \x92a\x92\n".encode("latin-1")
    )
    assert parse(raw).text == "Il manque 5 € ’a’"
    cp1252 = relay("Prix : 12 € — « merci »", charset="windows-1252")
    assert parse(stamped(cp1252)).text == "Prix : 12 € — « merci »"


def test_mislabelled_or_unknown_charsets_still_give_text() -> None:
    raw = stamped(relay("placeholder", cte="8bit")).replace(b"placeholder", "Grüße".encode())
    unknown = raw.replace(b'charset="utf-8"', b"charset=x-no-such-charset")
    assert parse(unknown).text == "Grüße"
    ascii_label = raw.replace(b'charset="utf-8"', b"charset=us-ascii")
    assert parse(ascii_label).text == "Grüße"


def test_raw_8bit_header_is_decoded() -> None:
    raw = stamped(relay()).replace(b"Subject: ", "Subject: Réclamation ".encode("latin-1"), 1)
    assert parse(raw).subject.startswith("Réclamation")


def test_quoted_history_is_kept_apart() -> None:
    body = (
        "------------- Begin message -------------\n\nStill nothing, please refund.\n\n"
        "On Fri, Nov 20, 2026 at 9:00 AM Shop <shop@example.com> wrote:\n"
        "> We shipped it on Monday.\n> Tracking: 1Z999\n"
        "------------- End message -------------\n"
    )
    mail = parse(stamped(relay(body)))
    assert mail.text == "Still nothing, please refund."
    assert "We shipped it on Monday." in mail.quoted and "wrote:" in mail.quoted
    assert "shipped" not in mail.text


def test_html_only_mail_is_converted_with_quotes_apart() -> None:
    message = relay()
    message.set_content(
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>------------- Begin message -------------</p>"
        f"<p>Hello,<br>where is order {ORDER}? &amp; thanks</p>"
        "<blockquote><p>Your order has shipped.</p></blockquote>"
        "<p>------------- End message -------------</p></body></html>",
        subtype="html",
    )
    mail = parse(stamped(message))
    assert mail.text == f"Hello,\nwhere is order {ORDER}? & thanks"
    assert mail.quoted == "> Your order has shipped."
    assert "color" not in mail.text


def test_attachments_are_listed_with_their_content() -> None:
    message = relay()
    pdf = b"%PDF-1.4 invoice " * 100
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="facture.pdf")
    message.add_attachment(
        b"\x89PNG....", maintype="image", subtype="png", filename="photo colis.png"
    )
    mail = parse(stamped(message))
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("facture.pdf", "application/pdf", len(pdf)),
        ("photo colis.png", "image/png", 8),
    ]
    assert mail.attachments[0].content == pdf
    assert mail.text.startswith("Bonjour, le colis")


def test_a_mail_without_message_id_gets_a_stable_id() -> None:
    message = relay()
    del message["Message-ID"]
    first, again = parse(stamped(message)), parse(stamped(message))
    assert first.message_id is None
    assert first.external_id == again.external_id and first.external_id.startswith("sha256:")


def _delivered(raw: bytes, hop: str) -> bytes:
    """As Dovecot files it: its trace fields on top, different at each delivery."""
    return (
        f"Return-Path: <bounces-{hop}@amazonses.com>\r\nDelivered-To: keybuzz+{hop}@localhost\r\n"
        f"Received: from mx ({hop})\r\n\tby dovecot with LMTP id {hop}; {hop}\r\n"
    ).encode() + raw


def test_without_message_id_the_id_leaves_out_what_delivery_adds() -> None:
    message = relay()
    del message["Message-ID"]
    other = relay("Un autre message, sans Message-ID non plus.")
    del other["Message-ID"]
    # Arrived by another path (no MX stamp): the content without the delivery's trace fields.
    first, again = (
        parse(_delivered(message.as_bytes(), "a")),
        parse(_delivered(message.as_bytes(), "b")),
    )
    assert first.external_id == again.external_id
    assert parse(_delivered(other.as_bytes(), "a")).external_id != first.external_id
    # Through the MX: its digest, topmost; one a sender wrote below it does not count.
    digest = "sha256:" + "ab" * 32
    forged = b"X-KeyBuzz-Content-Digest: sha256:" + b"cd" * 32 + b"\r\n" + message.as_bytes()
    mx = f"X-KeyBuzz-Content-Digest: {digest}\r\n".encode()
    assert parse(_delivered(mx + forged, "a")).external_id == digest


def test_every_inline_text_part_is_the_body_in_order_one_blank_line_apart() -> None:
    words = [
        "Bonjour, le colis est arrive casse.",
        "Voici la photo du carton (ci-dessus).",
        "Pouvez-vous me rembourser ? Merci, à bientôt.",
    ]
    # Written by hand: the base64 part has no final line break (nothing separates it
    # from the next but the rule), the quoted-printable one ends in a soft break.
    base64_words = base64.b64encode(words[1].encode()).decode()
    raw = stamped(
        (
            f"From: Jean - Amazon Marketplace <{BUYER}>\r\nSubject: Commande {ORDER}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{words[0]}\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64_words}\r\n"
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            "filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Pouvez-vous me rembourser ? Merci, =C3=A0 bient=C3=B4t.=\r\n\r\n--b--\r\n"
        ).encode()
    )

    mail = parse(raw)
    assert mail.parse_error is None
    assert mail.text == "\n\n".join(words)
    assert [(a.filename, a.content) for a in mail.attachments] == [("a.pdf", b"%PDF-1.4")]


def test_unparseable_mail_is_flagged_with_its_raw_text_kept() -> None:
    for raw in (b"", b"\x00\xff\xfe garbage without headers or body \x80", b"Subject: x\r\n"):
        mail = parse(raw)
        assert mail.parse_error, raw
        assert mail.raw == raw
    broken = (
        b"From: <x@marketplace.amazon.fr>\r\nContent-Type: multipart/mixed; boundary=zz\r\nSubject: t\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhello "
        + ORDER.encode()
    )
    mail = parse(broken)  # unterminated multipart: still read
    assert (mail.parse_error, mail.order_id, mail.text) == (None, ORDER, "hello " + ORDER)


def test_html_to_text_keeps_paragraphs() -> None:
    assert html_to_text("<div>a</div><div>b <b>c</b></div><script>x()</script>") == "a\n\nb c"


def test_an_attached_mail_is_an_attachment_not_body_text() -> None:
    inner = relay("an older mail, not the buyer's words")
    message = relay()
    message.add_attachment(inner)
    mail = parse(stamped(message))
    assert mail.text.startswith("Bonjour, le colis")
    assert "older mail" not in mail.text
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]
    assert b"older mail" in mail.attachments[0].content


def test_rfc2047_words_in_the_headers_read_are_decoded() -> None:
    raw = stamped(relay()).replace(
        b"From: Jean - Amazon Marketplace",
        b"From: =?utf-8?q?Doe=2C_J=C3=A9r=C3=B4me?= =?utf-8?b?IC0gQW1hem9uIE1hcmtldHBsYWNl?=",
        1,
    )
    raw = raw.replace(b"Subject: ", b"Subject: =?ISO-8859-1?Q?R=E9clamation_5_=80?= ", 1)
    mail = parse(raw)
    # A comma inside an encoded name does not split the address; the blank between two
    # adjacent words goes; iso-8859-1 means windows-1252 there too (0x80 is the euro sign).
    assert (mail.buyer_name, mail.buyer_email) == ("Doe, Jérôme", BUYER)
    assert mail.subject.startswith("Réclamation 5 € Demande de renseignements")


def test_a_malformed_message_id_is_kept_whole_so_two_mails_stay_two() -> None:
    ids = {
        "<dsn-reply-1@inbound.keybuzz.test@amazon.fr>",
        "<dsn-reply-1@inbound.keybuzz.test@amazon.de>",
    }
    raws = [
        stamped(relay()).replace(b"<0102019abc@eu-west-1.amazonses.com>", id.encode()) for id in ids
    ]
    assert {parse(raw).external_id for raw in raws} == ids


def test_a_buyer_message_is_not_automatic() -> None:
    assert parse(stamped(relay())).automatic is False
    explicit = relay()
    explicit["Auto-Submitted"] = "no"
    assert parse(stamped(explicit)).automatic is False


def test_auto_replies_reports_and_notifications_are_automatic() -> None:
    auto_reply = relay()
    auto_reply["Auto-Submitted"] = "auto-replied"
    assert parse(stamped(auto_reply)).automatic is True
    report = EmailMessage()
    report["From"] = f"Jean <{BUYER}>"
    report["Subject"] = "Read: your reply"
    report.set_content("read")
    report.set_type("multipart/report")
    assert parse(stamped(report)).automatic is True
    notification = relay()
    del notification["From"]
    notification["From"] = "Amazon <donotreply@amazon.fr>"
    assert parse(stamped(notification)).automatic is True
