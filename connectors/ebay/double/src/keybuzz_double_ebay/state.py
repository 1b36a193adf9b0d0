"""The eBay double's state: its sellers (seeded, and the extra ones of its settings), their
conversations and orders, the consent codes and tokens it gave, and the calls it counted
against eBay's quotas."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from keybuzz_sandbox.double_kit.api import iso_millis
from keybuzz_sandbox.double_kit.tokens import Issued
from keybuzz_sandbox.faults import FaultInjector, WebPageFaults

from . import (
    APP_CALLS_PER_DAY,
    EXTRA_NUMBERS,
    GRANTS_PER_DAY,
    PACIFIC,
    SELLERS,
    USER_CALLS_PER_DAY,
    EbayDoubleSettings,
)

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


@dataclass
class Seller:
    number: str
    seed: str
    name: str = ""
    generation: int = 0
    token_requests: int = 0
    conversations: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, str]] = field(default_factory=list)  # {"body": …} each

    @property
    def user_id(self) -> str:
        return f"eBayUser{self.number}x"

    @property
    def username(self) -> str:
        return f"vendeur_{self.number}"

    @property
    def refresh_token(self) -> str:
        digest = hashlib.sha256(f"{self.seed}|{self.number}|{self.generation}".encode()).hexdigest()
        return f"v^1.1#i^1#r^1#{digest[:40]}"

    def conversation(self, conversation_id: object) -> dict[str, Any] | None:
        return next((c for c in self.conversations if c["conversationId"] == conversation_id), None)


def message(
    message_id: str, sender: str, recipient: str, subject: str, body: str, at: float
) -> dict[str, Any]:
    """A conversation's message as the Message API shows it, unread."""
    return {
        "messageId": message_id,
        "createdDate": iso_millis(at),
        "messageBody": body,
        "senderUsername": sender,
        "recipientUsername": recipient,
        "subject": subject,
        "readStatus": False,
    }


def seller_order(seller: Seller, n: int, when: float) -> dict[str, Any]:
    """The seller's ``n``-th order, created and last modified ``when``."""
    states = ("NOT_STARTED", "IN_PROGRESS", "FULFILLED")
    at = iso_millis(when)
    return {
        "orderId": f"{10 + int(seller.number)}-{10000 + n:05d}-{20000 + n:05d}",
        "creationDate": at,
        "lastModifiedDate": at,
        "orderFulfillmentStatus": states[n % 3],
        "orderPaymentStatus": "PAID",
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "buyer": {"username": f"acheteur_{n}"},
        "sellerId": seller.username,
        "lineItems": [
            {
                "lineItemId": f"{n}001",
                "title": f"Objet {n}",
                "quantity": 2,
                "lineItemCost": {"value": "20.00", "currency": "EUR"},
                "lineItemFulfillmentStatus": states[n % 3],
                "legacyItemId": f"1100{n}",
                "sku": f"SKU-{n}",
                "listingMarketplaceId": ("EBAY_FR", "EBAY_DE")[n % 2],
            }
        ],
    }


class Grant(msgspec.Struct, frozen=True):
    """A seller's access token or consent code, until ``expires_at`` (real epoch seconds)."""

    number: str
    expires_at: float


@dataclass
class EbayState:
    """What the double keeps while it runs (in memory: a restart seeds it again)."""

    seed: str
    secret: str  # the application's client secret
    sellers: dict[str, Seller]
    faults: FaultInjector
    codes: Issued[Grant]  # consent codes, redeemed once
    access: Issued[Grant]  # access tokens
    # RuName → the accept URL registered with it
    accept: dict[str, str] = field(default_factory=dict)
    # The admin may lower them, and make a "day" a window of so many seconds (0: eBay's day),
    # so that a run of minutes meets the limit a day's rate of calls would.
    limits: dict[str, int] = field(
        default_factory=lambda: {
            "app": APP_CALLS_PER_DAY,
            "fulfillment": APP_CALLS_PER_DAY,
            "user": USER_CALLS_PER_DAY,
            "grants": GRANTS_PER_DAY,
            "window": 0,
        }
    )
    # (day, "app", "fulfillment" or a seller) → calls answered; (day, "refused-<api>") →
    # calls answered 429 past the app's quota of that API
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (day, "granted" or "refused") → refresh-token grants answered, or refused past the limit
    grants: Counter[tuple[str, str]] = field(default_factory=Counter)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Each seller by the refresh tokens it was given: a token is its seller's while it is
    # the current one (a revocation gives a new one).
    refreshing: dict[str, Seller] = field(default_factory=dict)

    @classmethod
    def seeded(cls, sb: Sandbox) -> EbayState:
        seed = sb.config.seed
        sellers = {n: Seller(n, seed) for n in SELLERS}
        for n in range(1, sb.config.of(EbayDoubleSettings).extra_shops + 1):
            number = str(EXTRA_NUMBERS + n)
            sellers[number] = Seller(number, seed, f"eBay Boutique {n:05d}")
        for seller in sellers.values():  # six orders, a week apart
            now = time.time()
            seller.orders = [seller_order(seller, n, now - 86_400 * (1 + 7 * n)) for n in range(6)]
        secret = f"SBX-{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
        faults = FaultInjector(seed, WebPageFaults())
        state = cls(seed, secret, sellers, faults, Issued(sb.clock), Issued(sb.clock))
        state.refreshing = {s.refresh_token: s for s in sellers.values()}
        return state

    def today(self) -> str:
        if (window := self.limits["window"]) > 0:
            return f"window-{int(time.time() // window)}"
        return datetime.now(PACIFIC).date().isoformat()

    def spent(self, seller: Seller, api: str) -> bool:
        """Counts the call; True when the app's day of ``api``'s calls (the Fulfillment
        API's, or the others') or the seller's is spent."""
        calls, limits = self.calls, self.limits
        day, quota = self.today(), "fulfillment" if api == "fulfillment" else "app"
        if calls[(day, quota)] >= limits[quota] or calls[(day, seller.number)] >= limits["user"]:
            calls[(day, f"refused-{quota}")] += 1
            return True
        calls[(day, quota)] += 1
        calls[(day, seller.number)] += 1
        return False

    def granted(self) -> bool:
        """Counts a refresh-token grant; False (counted refused) past the day's limit."""
        day = self.today()
        spent = self.grants[(day, "granted")] >= self.limits["grants"]
        self.grants[(day, "refused" if spent else "granted")] += 1
        return not spent

    def revoke(self, seller: Seller) -> dict[str, bool]:
        """The seller withdraws its consent: its refresh and access tokens stop working."""
        seller.generation += 1
        self.refreshing[seller.refresh_token] = seller
        self.expire(seller)
        return {"revoked": True}

    def expire(self, seller: Seller) -> int:
        return self.access.withdraw(lambda grant: grant.number == seller.number)
