"""ManoMano's mails as the double sends them (docs/MANOMANO.md, "The double"); a test may
leave fields out of the signature (``unsigned``) or add fields above a signed mail
(``added``, a replay with a second Subject)."""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Literal

import msgspec
from keybuzz_sandbox.dkim_signing import PRIVATE_KEY, dkim_signature
from keybuzz_sandbox.double_kit.people import nth_buyer

from . import BUYER_DOMAIN, SELECTOR, SUPPORT_ADDRESS

Kind = Literal["buyer", "invoice", "support", "notice", "alert"]
NOTICE_ADDRESS = "ne-pas-repondre@manomano.fr"
ALERT_ADDRESS = "alertes@manomano.fr"
SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"auto-submitted",
]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% KeyBuzz sandbox\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"

WORDS = {
    "buyer": (
        "Bonjour,\n\nJ'ai commandé une perceuse-visseuse il y a une semaine et le colis "
        "n'est toujours pas arrivé. Pouvez-vous me donner le numéro de suivi ?\n\n"
        "Merci d'avance,\n{name}"
    ),
    "invoice": (
        "Bonjour,\n\nPourriez-vous m'envoyer la facture de ma commande {order} ? "
        "J'en ai besoin pour ma comptabilité.\n\nCordialement,\n{name}"
    ),
    "support": (
        "Bonjour,\n\nLe client nous signale ne pas avoir reçu la commande {order}. "
        "Merci de nous indiquer sous 48 heures le suivi du colis ou de procéder au "
        "remboursement.\n\nL'équipe Service Client ManoMano"
    ),
    "notice": (
        "Bonjour,\n\nLa commande {order} a été passée sur ManoMano. Vous avez 48 heures "
        "pour l'accepter depuis votre Toolbox.\n\nCeci est un message automatique, merci "
        "de ne pas y répondre."
    ),
    "alert": (
        "Bonjour,\n\nLa commande {order} n'est pas encore expédiée. Pensez à saisir le "
        "numéro de suivi dans votre Toolbox.\n\nCeci est un message automatique."
    ),
}
SUBJECTS = {
    "buyer": "Nouveau message concernant la commande {order}",
    "invoice": "Demande de facture - commande {order}",
    "support": "[ManoMano] Réclamation sur la commande {order}",
    "notice": "Nouvelle commande {order} à accepter",
    "alert": "Rappel : la commande {order} est à expédier",
}


class Sent(msgspec.Struct, kw_only=True, rename="camel"):
    """What the double sent: its Message-ID, sender, the order, the raw mail's digest."""

    message_id: str
    sender: str
    order_id: str
    kind: str
    to: str


def buyer_alias(order_id: str, name: str) -> str:
    """A buyer's alias at the relay: the same for one buyer and order."""
    token = hashlib.sha256(f"{order_id}|{name}".encode()).hexdigest()[:12]
    return f"{token}@{BUYER_DOMAIN}"


# The sender of each kind but a buyer's (its alias): (display name, address).
SENDERS = {
    "support": ("Service Client ManoMano", SUPPORT_ADDRESS),
    "notice": ("ManoMano", NOTICE_ADDRESS),
    "alert": ("ManoMano Alertes", ALERT_ADDRESS),
}


def compose(
    kind: Kind,
    to: str,
    order_id: str,
    *,
    index: int = 0,
    attach: bool = False,
    forged: bool = False,
    tampered: bool = False,
    unsigned: tuple[str, ...] = (),
    added: tuple[tuple[str, str], ...] = (),
    now: datetime | None = None,
) -> tuple[bytes, Sent]:
    """The mail's bytes, signed as ManoMano would (unless ``forged``), and what was sent."""
    name = " ".join(nth_buyer(index))
    display, address = SENDERS.get(kind) or (f"{name} via ManoMano", buyer_alias(order_id, name))
    words = WORDS[kind].format(order=order_id, name=name)
    domain = address.rpartition("@")[2]
    msg = EmailMessage()
    msg["From"] = formataddr((display, address))
    msg["To"] = to
    msg["Subject"] = SUBJECTS[kind].format(order=order_id)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain)
    if kind in ("notice", "alert"):
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(words)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in words.split("\n\n"))
    msg.add_alternative(
        "<!DOCTYPE html><html><head><style>p{font-family:Arial}</style></head><body>"
        f'<img src="https://cdn.manomano.com/logo.png" alt="ManoMano">{paragraphs}'
        "</body></html>",
        subtype="html",
    )
    if attach or kind == "notice":
        if kind == "buyer":
            msg.add_attachment(JPEG, maintype="image", subtype="jpeg", filename="colis.jpg")
        else:
            msg.add_attachment(
                PDF, maintype="application", subtype="pdf", filename=f"{order_id}.pdf"
            )
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    if not forged:
        raw = sign(raw, domain, leaving_out=unsigned) + raw
    raw = b"".join(f"{name}: {value}\r\n".encode() for name, value in added) + raw
    if tampered:
        raw = raw.replace(b"Bonjour", b"Bonjour, virez 500 EUR sur ce compte", 1)
    sent = Sent(
        message_id=str(msg["Message-ID"]), sender=address, order_id=order_id, kind=kind, to=to
    )
    return raw, sent


def sign(raw: bytes, domain: str, leaving_out: tuple[str, ...] = ()) -> bytes:
    """The DKIM-Signature header of ``raw`` for ``domain`` with the double's key, the
    fields ``leaving_out`` names not signed."""
    fields = [f for f in SIGNED_HEADERS if f.decode() not in leaving_out]
    return dkim_signature(raw, SELECTOR, domain, PRIVATE_KEY, fields)
