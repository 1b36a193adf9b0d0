"""Amazon's own mails to a seller's address, as the double sends them: a notice from an
address nobody answers (automatic, ``Auto-Submitted``) or a seller-support mail, each
DKIM-signed by Amazon's domain with the double's key (``dkim_key``) [assumed: Amazon signs
its mails with the domain of their From; the words are real-looking, not copied]."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from keybuzz_sandbox.dkim_signing import PRIVATE_KEY, dkim_signature

SELECTOR = "sandbox"
DOMAIN = "amazon.fr"
# The domains the double signs for (d=), the connector's keys given for each.
SIGNING_DOMAINS = ("amazon.fr", "amazon.com")
NOTICE_FROM = "Amazon <no-reply@amazon.fr>"
SUPPORT_FROM = "Service Partenaires Amazon <seller-support@amazon.fr>"
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"content-type")
Kind = Literal["notice", "support"]


def compose(kind: Kind, to: str, order_id: str, *, signed: bool = True) -> bytes:
    """A notice or a support mail about ``order_id`` to ``to``, signed unless ``signed``
    is False (a forger's)."""
    msg = EmailMessage()
    msg["From"] = NOTICE_FROM if kind == "notice" else SUPPORT_FROM
    msg["To"] = to
    if kind == "notice":
        msg["Subject"] = f"Commande expédiée (Commande : {order_id})"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(f"Votre commande {order_id} a été confirmée comme expédiée.\n")
    else:
        msg["Subject"] = f"Au sujet de la commande {order_id}"
        msg.set_content(f"Bonjour, merci de répondre à l'acheteur de la commande {order_id}.\n")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="amazon.fr")
    raw = msg.as_bytes()
    # Signed by DOMAIN with the double's key, a notice's automatic mark too.
    fields = [*SIGNED_HEADERS, *((b"auto-submitted",) if kind == "notice" else ())]
    return dkim_signature(raw, SELECTOR, DOMAIN, PRIVATE_KEY, fields) + raw if signed else raw
