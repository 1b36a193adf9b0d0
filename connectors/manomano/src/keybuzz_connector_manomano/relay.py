"""ManoMano's mail relay, the ``mail_relay`` part of the ManoMano connector
(docs/MANOMANO.md, "Buyers' mails": the order in the subject, who wrote it, the DKIM
check); reading the mail, the MX, bounces and sending are the poller's."""

from __future__ import annotations

import re

from keybuzz_shared.connectors.kit import DeclaredRelay, OrderIdPattern
from keybuzz_shared.connectors.seam import Limits, ParsedMail, SenderType, attachment_types

# ``M`` and 12 digits [observed: cnsi-sd/crm matches ``M(\d{12})`` in the subject].
ORDER_IDS = OrderIdPattern("M[0-9]{12}", "a ManoMano one (M and 12 digits)")
# ManoMano's customer service writes from its Zendesk [observed]; its notices come from
# an address nobody answers [observed].
SUPPORT_DOMAIN = "monechelle.zendesk.com"
NOTICE_ADDRESS = "ne-pas-repondre@manomano.fr"
NOTICE_DOMAIN = "manomano.fr"
# The buyers' aliases at the relay [assumed: ManoMano does not publish their form;
# cnsi-sd/crm threads by the sender's local part, one per buyer].
BUYER_DOMAIN = "contact.manomano.com"
INVOICE_REQUEST = re.compile(r"demande\s+de\s+facture", re.IGNORECASE)
# The keys its mails are checked with: DNS's, or those ``ManoManoSettings`` hands here from
# MANOMANO_DKIM_KEYS (the sandbox's double gives its own).
DKIM_KEYS = DeclaredRelay.DkimKeys("MANOMANO_DKIM_KEYS")

# What a reply may carry [assumed: ManoMano publishes no limit of its relay; those of the
# Toolbox's messaging, an invoice PDF or photos, a few MB]: extension -> content types.
ATTACHMENT_TYPES = attachment_types(".pdf", ".jpg", ".jpeg", ".png")
LIMITS = Limits(
    max_attachments=5,
    max_attachment_bytes=10 * 1024 * 1024,
    max_text_length=10_000,
    page_size=50,
)

# Demo mails (the relay's mock mode).
DEMO_MAILS = tuple(
    DeclaredRelay.DemoMail(
        order_id, (f"{name} via ManoMano", alias), subject, f"{words}\n\nCommande : {order_id}\n"
    )
    for order_id, name, alias, subject, words in (
        (
            "M240000000101",
            "Camille Petit",
            "b7k2q9x4@contact.manomano.com",
            "Question sur votre commande M240000000101",
            "Bonjour, ma perceuse n'est toujours pas arrivée. Pouvez-vous me donner le suivi ?",
        ),
        (
            "M240000000102",
            "Hugo Martin",
            "c3m8z1w6@contact.manomano.com",
            "Demande de facture - commande M240000000102",
            "Bonjour, pourriez-vous m'envoyer la facture de ma commande ? Merci.",
        ),
    )
)


def sender_type(mail: ParsedMail, signed: DeclaredRelay.Signed) -> SenderType:
    """Who wrote the mail (docs/MANOMANO.md, "Who wrote it"): ManoMano only when its DKIM
    signature covers the mail (``signed``), a forged one a buyer's, never hidden as a notice."""
    sender = mail.from_address or ""
    if sender == NOTICE_ADDRESS or sender.rpartition("@")[2] == SUPPORT_DOMAIN:
        if signed.by is None:
            return "BUYER"
        return "SYSTEM" if sender == NOTICE_ADDRESS else "MARKETPLACE_SUPPORT"
    if mail.buyer_email is None and signed.automatic:
        return "SYSTEM"
    return "BUYER"


class ManoManoRelay(DeclaredRelay):
    """The seam's ``MailRelay`` for ManoMano (docs/MANOMANO.md, "Buyers' mails")."""

    sender_of = sender_type
    signing_domains = frozenset({NOTICE_DOMAIN, SUPPORT_DOMAIN})
    dkim_keys = DKIM_KEYS
    # ``manomano.<tenantId>.<country>.<token>@<domain>`` (docs/MANOMANO.md, "Connecting").
    address_label = "manomano"
    setup = (
        "In ManoMano's Toolbox, Paramètres: give this address as the e-mail ManoMano "
        "writes to about your orders (buyers' messages, invoice requests, customer "
        "service), or forward ManoMano's e-mails to it."
    )
    buyer_address_form = f"…@{BUYER_DOMAIN}"
    # A buyer's alias, or the customer service's Zendesk address: the thread's correspondent
    # (docs/MANOMANO.md, "Thread").
    buyer_address = re.compile(
        rf"^\s*[^@\s]+@({re.escape(BUYER_DOMAIN)}|{re.escape(SUPPORT_DOMAIN)})\s*$", re.I
    )
    name_suffix = re.compile(r"\s*(via|-|\|)\s*mano\s*mano.*$", re.IGNORECASE)
    order_ids = ORDER_IDS
    already_a_reply = re.compile(r"(?i)(re|tr|fw|fwd)\s*:")
    attachment_types = ATTACHMENT_TYPES
    subject_topics = ((INVOICE_REQUEST, "INVOICE_REQUEST"),)
    demo_mails = DEMO_MAILS
