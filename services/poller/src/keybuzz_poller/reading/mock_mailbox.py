"""``AMAZON_USE_MOCK=true``: deterministic relay mails for demos, behind the mailbox interface.

Instead of IMAP, :class:`MockMailbox` hands every tenant the same
few relay-style mails about real orders of the sandbox's seeded seller
(``A12BCIS2R7HD4D``, docs/SANDBOX.md), and they go through the very same path as
real mail: ``read_batch`` → ``relay_mail.parse`` → ``from_mails.store_mails``
(tickets, ``message.received``), with a cursor, so a second poll adds nothing.

The order ids are copied here as data (computed once by the sandbox's generator
with the default ``SANDBOX_SEED=keybuzz``, indices 86–90): the poller must not
depend on the sandbox package. Refused when ``KEYBUZZ_ENV`` is production-like
(``settings.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from keybuzz_poller.inbound.addresses import FOLDER_PREFIX, INBOUND_HEADER
from keybuzz_poller.reading.mailbox import Mailbox
from keybuzz_poller.reading.ports import Cursor, FetchedMail, NewMail

# Any constant: the mock folder is never re-created, so UIDs never start over.
UID_VALIDITY = 1
MOCK_SELLER_ID = "A12BCIS2R7HD4D"
# (order id, buyer name, buyer relay address, item, buyer's words): sandbox seed "keybuzz".
ORDERS: tuple[tuple[str, str, str, str, str], ...] = (
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
_SENT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # fixed: the same mail every time


def mock_mail(tenant_id: str, index: int, inbound_domain: str) -> bytes:
    """The ``index``-th mock relay mail of a tenant, byte for byte the same every time."""
    order_id, name, buyer, item, text = ORDERS[index]
    msg = EmailMessage()
    # No real token: the address only tells the parser marketplace and country.
    msg[INBOUND_HEADER] = f"amazon.{tenant_id}.fr.mock@{inbound_domain}"
    msg["From"] = formataddr((f"{name} - Amazon Marketplace", buyer))
    msg["To"] = f"mock-seller@{inbound_domain}"
    msg["Subject"] = (
        f"Demande de renseignements de la part du client Amazon {name} (Commande : {order_id})"
    )
    msg["Date"] = format_datetime(_SENT.replace(hour=9 + index))
    # Per tenant: the same order in two demo tenants is two messages.
    msg["Message-ID"] = f"<mock-{order_id}.{tenant_id}@keybuzz.mock>"
    msg.set_content(
        "------------- Début du message -------------\n\n"
        f"{text}\n\n"
        "------------- Fin du message -------------\n\n"
        f"Numéro de commande : {order_id}\nArticle : {item}\nQuantité : 1\n\n"
        "Cordialement,\nService Client Amazon.fr\n"
    )
    return msg.as_bytes()


class MockMailbox(Mailbox):
    """Every tenant's folder holds the same ``len(ORDERS)`` mails, UIDs 1…n."""

    def __init__(self, inbound_domain: str) -> None:
        self.inbound_domain = inbound_domain

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        tenant_id = folder.removeprefix(FOLDER_PREFIX)
        after = cursor.last_uid if cursor and cursor.uid_validity == UID_VALIDITY else 0
        uids = list(range(after + 1, len(ORDERS) + 1))[:limit]
        mails = [
            FetchedMail(uid, mock_mail(tenant_id, uid - 1, self.inbound_domain)) for uid in uids
        ]
        last = max(uids, default=after)
        return NewMail(mails, Cursor(UID_VALIDITY, last), more=last < len(ORDERS))

    async def is_ready(self) -> bool:
        return True

    async def tenant_folders(self, prefix: str = FOLDER_PREFIX) -> dict[str, int]:
        return {}  # nothing is ever delivered: nothing to quarantine
