"""Amazon's Buyer-Seller Messaging relay, the ``mail_relay`` part of the Amazon connector.

A relay mail (docs/ARCHITECTURE.md, "Amazon facts") comes from the buyer's anonymised
alias (``…@marketplace.amazon.<tld>``, display name ``<name> - Amazon Marketplace``) and
names the order (3-7-7 digits) in its subject and body. Amazon forwards a seller's reply
to the alias only from the seller account's registered address or an approved sender,
with attachments of supported types up to 10 MB in all; what only Amazon knows (is the
sender approved? did the buyer opt out?) comes back as a bounce. Reading the mail, the MX,
bounces and sending are the poller's (docs/POLLER.md).

Amazon's notices (``no-reply@amazon.fr``) and its seller support write from Amazon's own
domains and Amazon DKIM-signs them with those domains [assumed: Amazon publishes no list;
its mails seen signed ``d=amazon.fr`` / ``d=amazon.com``]. A mail claiming one is taken
for Amazon's only when such a signature verifies and covers what is shown of it (the
kit's ``signed_mail``, as every relay that signs): an unsigned
one is answered as anyone's, never hidden as a notice.
"""

from __future__ import annotations

import re

from keybuzz_shared.connectors.kit import DeclaredRelay
from keybuzz_shared.connectors.seam import ParsedMail, SenderType, attachment_types

from keybuzz_connector_amazon.dkim_keys import DKIM_KEYS
from keybuzz_connector_amazon.order_feed import AmazonOrderIds

BUYER_ADDRESS = re.compile(r"@marketplace\.amazon\.[a-z]{2,3}(\.[a-z]{2})?$", re.IGNORECASE)
# The domains Amazon signs its notices and support mails with, one per marketplace the
# connector serves [assumed: Amazon's own domains, as its mails' From show them].
SIGNING_DOMAINS = frozenset(
    {"amazon.fr", "amazon.com", "amazon.de", "amazon.co.uk", "amazon.it", "amazon.es"}
)
_BUYER_NAME_SUFFIX = re.compile(r"\s*-\s*(amazon\s+)?marketplace.*$", re.IGNORECASE)

# What the relay takes (docs/SANDBOX.md, "Reply relay"): extension → content types.
ATTACHMENT_TYPES = attachment_types(
    ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".txt", ".doc", ".docx"
)

# Demo mails (AMAZON_USE_MOCK, docs/POLLER.md "Mock source"): real orders of the sandbox's
# seeded seller (``A12BCIS2R7HD4D``, sandbox seed "keybuzz", indices 86–90), copied here as
# data: the poller must not depend on the sandbox package.
# (order id, buyer name, buyer relay address, item, buyer's words)
DEMO_ORDERS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "403-1027206-4659269",
        "Jules Roux",
        "16dqebw7zz5vki28@marketplace.amazon.fr",
        "Coussin ergonomique - Blanc",
        "Bonjour, pourriez-vous me dire quand ma commande sera expédiée ? Merci.",
    ),
    (
        "407-6524291-3427835",
        "Lucas Bernard",
        "2winpswmg8axyae5@marketplace.amazon.fr",
        "Tapis de yoga antidérapant - Blanc",
        "Bonjour, le colis n'est toujours pas arrivé. Pouvez-vous vérifier le suivi ?",
    ),
    (
        "403-7186471-4158777",
        "Lucas Fournier",
        "q7ip2keeihfq0o75@marketplace.amazon.fr",
        "Lampe de bureau LED - Bleu",
        "Bonjour, l'article reçu ne correspond pas à la description. Comment le retourner ?",
    ),
    (
        "407-0413490-9030763",
        "Hugo Fournier",
        "elfob78ku6q49l8h@marketplace.amazon.fr",
        "Lampe de bureau LED - Blanc",
        "Bonjour, est-il possible de modifier l'adresse de livraison ?",
    ),
    (
        "403-5818590-5885561",
        "Louis Moreau",
        "1vdqubc0ss7r5mqc@marketplace.amazon.fr",
        "Batterie externe 10000 mAh - Bleu",
        "Bonjour, pourriez-vous me dire quand ma commande sera expédiée ? Merci.",
    ),
)
DEMO_MAILS = tuple(
    DeclaredRelay.DemoMail(
        order_id,
        (f"{name} - Amazon Marketplace", buyer),
        f"Demande de renseignements de la part du client Amazon {name} (Commande : {order_id})",
        "------------- Début du message -------------\n\n"
        f"{text}\n\n"
        "------------- Fin du message -------------\n\n"
        f"Numéro de commande : {order_id}\nArticle : {item}\nQuantité : 1\n\n"
        "Cordialement,\nService Client Amazon.fr\n",
    )
    for order_id, name, buyer, item, text in DEMO_ORDERS
)


def sender_type(mail: ParsedMail, signed: DeclaredRelay.Signed) -> SenderType:
    """BUYER when it comes from a buyer's alias (even an automatic answer of theirs: its
    name is the buyer's); SYSTEM for automatic mail Amazon signed, marks included
    (notifications from addresses nobody answers, reports); MARKETPLACE_SUPPORT for
    another mail Amazon signed (seller support, the A-to-z team); everyone else, an
    unsigned notice or "support" and a mail the parser could not read, BUYER (an
    unverified mail is answered as the buyer's: shown, never hidden as a notice)."""
    if mail.buyer_email is not None or signed.by is None:
        return "BUYER"
    if mail.automatic:
        return "SYSTEM" if signed.automatic else "BUYER"
    return "BUYER" if mail.parse_error is not None else "MARKETPLACE_SUPPORT"


class AmazonRelayMail(DeclaredRelay):
    """The seam's ``MailRelay`` for Amazon; a reply's limits are the connector's
    (``limits``: Amazon documents "one or more attachments (up to 10 MB) in a message",
    Seller Central help 200389080, and no count). A mail is on its order's thread when it
    names one (Amazon files a conversation by its order), on a thread of its own otherwise;
    a reply's subject keeps the order id (Amazon files the reply by it)."""

    sender_of = sender_type
    signing_domains = SIGNING_DOMAINS
    dkim_keys = DKIM_KEYS
    address_label = "amazon"  # amazon.<tenantId>.<country>.<token>@<INBOUND_DOMAIN>
    # Made with the tenant, in the countries it asks for: the seller registers each in
    # Seller Central, before or after consenting.
    on_connection = False
    setup = (
        "Forward the buyer-message e-mails Amazon sends to your Seller Central address to "
        "this address (a forwarding rule of your mailbox)."
    )
    buyer_address_form = "…@marketplace.amazon.<tld>"
    buyer_address = BUYER_ADDRESS
    name_suffix = _BUYER_NAME_SUFFIX
    order_ids = AmazonOrderIds()
    order_note = "(Order: {})"
    attachment_types = ATTACHMENT_TYPES
    demo_mails = DEMO_MAILS
