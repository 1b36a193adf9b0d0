"""What Rakuten's double holds: its sellers, the items they sold and what was said about
each (the buyer's and the seller's messages, mails with Rakuten's customer service)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SELLERS = ("boutique-7001", "boutique-7002", "boutique-7003")
EXTRA_ITEMS = 700_000_000  # ids of the extra sellers' items: above those the admin opens
SUPPORT = "Rakuten"
PARIS = ZoneInfo("Europe/Paris")
DAY = 86_400.0


@dataclass
class Said:
    kind: str  # "message" (the buyer's or the seller's) or "mail" (with Rakuten)
    sender: str
    recipient: str
    at: float  # epoch seconds
    content: str
    unread: bool
    mail_id: str = ""


@dataclass
class Item:
    item_id: str
    purchase_id: str
    buyer: str
    ordered_at: float
    received_at: float | None = None
    status: str = "ACCEPTED"
    claim: str = ""  # "", "OPEN" or "CLOSED"
    amicable: bool = False
    said: list[Said] = field(default_factory=list)

    def to_do(self, login: str) -> list[str]:
        causes = ["claim"] if self.claim == "OPEN" else []
        unread = {s.sender for s in self.said if s.unread and s.sender != login}
        causes += ["message_from_buyer"] if unread - {SUPPORT} else []
        return causes + (["message_from_rakuten"] if SUPPORT in unread else [])


@dataclass
class Seller:
    login: str
    token: str
    name: str = ""
    items: dict[str, Item] = field(default_factory=dict)
    sent: list[dict[str, str]] = field(default_factory=list)


def dated(at: float) -> str:
    return datetime.fromtimestamp(at, PARIS).strftime("%d/%m/%Y-%H:%M")


def message_id(item: Item, said: Said) -> str:
    """The id Rakuten's connector gives a message (Rakuten gives none): its mail id, else
    a digest of what the answer says of it (docs/RAKUTEN.md)."""
    if said.mail_id:
        return f"{item.item_id}:mail:{said.mail_id}"
    at = datetime.strptime(dated(said.at), "%d/%m/%Y-%H:%M").replace(tzinfo=PARIS)
    parts = (item.item_id, said.kind, said.sender, at.astimezone(UTC).isoformat(), said.content)
    return f"{item.item_id}:{said.kind}:{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:24]}"


def seller_token(login: str, seed: object) -> str:
    return hashlib.sha256(f"{login}|{seed}".encode()).hexdigest()[:32]


def seeded_sellers(seed: object, extra: int) -> dict[str, Seller]:
    """The double's sellers by login: the three seeded ones, then ``extra`` small ones, each
    with one item sold 3 days ago, its buyer's message read."""
    sellers = {login: Seller(login, seller_token(login, seed)) for login in SELLERS}
    for n in range(1, extra + 1):
        login = f"petite-boutique-{n:05d}"
        seller = Seller(login, seller_token(login, seed), f"Rakuten Boutique {n:05d}")
        ordered = time.time() - 3 * DAY
        item = Item(str(EXTRA_ITEMS + n), str(EXTRA_ITEMS + n), f"acheteur-p{n}", ordered)
        item.said.append(Said("message", item.buyer, login, ordered + 600, "Merci !", False))
        seller.items[item.item_id] = item
        sellers[login] = seller
    return sellers
