"""What a drawn double (its shops' books by account, their tokens) keeps beside its books:
the bearer tokens it issued, its rate limiter, its admin list of shops, a shop's secret
renewed; and when a seeded seller answered a buyer."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from keybuzz_sandbox.clock import Clock
from keybuzz_sandbox.double_kit.admin import drawn_shops_handlers, shop_log_handlers
from keybuzz_sandbox.double_kit.books import DrawnShop, shop_view
from keybuzz_sandbox.double_kit.history import HOUR
from keybuzz_sandbox.double_kit.tokens import Issued
from keybuzz_sandbox.ratelimit import RateLimiter

B = TypeVar("B", bound=DrawnShop[Any, Any])


class Grant(msgspec.Struct, frozen=True):
    shop: str  # the account of the shop it opens
    caller: str  # whom it was issued to (a partner, a client)
    expires_at: float  # real epoch seconds


class DrawnDouble(Generic[B]):
    def __init__(self, clock: Clock, books: dict[str, B]) -> None:
        self.clock = clock
        self.books = books
        self.tokens: Issued[Grant] = Issued(clock)
        self.limiter = RateLimiter(clock)

    def shops(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [shop_view(book, now) for book in self.books.values()]

    def grant(
        self, shop: str, caller: str, matches: Callable[[B], bool], lifetime: float, token: str
    ) -> tuple[str, Grant] | None:
        """``token`` for ``caller``, valid ``lifetime`` marketplace seconds, if the shop's
        credentials ``matches`` what it sent; counted among the shop's token requests."""
        book = self.books.get(shop)
        if book is None:
            return None
        book.token_requests += 1
        if not matches(book):
            return None
        grant = Grant(shop, caller, self.clock.deadline(lifetime))
        return self.tokens.issue(token, grant), grant

    def expire_tokens(self, book: B) -> int:
        return self.tokens.withdraw(lambda granted: self.books[granted.shop] is book)

    def admin(
        self,
        book_of: Callable[[str], Any],  # a B with its sent log (``admin.ShopLog``)
        advance: Callable[[B, float], Any],
        rotate: tuple[str, Callable[[B], Any]],
    ) -> list[Any]:
        """Its shops at its admin: listed, advanced, their sent logs, a secret ``rotate``d,
        their tokens expired and counted (``admin.py``)."""
        return [
            *drawn_shops_handlers(self.shops, book_of, advance),
            *shop_log_handlers(book_of, rotate, expire_tokens=self.expire_tokens),
        ]

    def renew(self, shop: str, **secret: str) -> None:
        """Gives the shop a new ``secret``: the old one and its tokens stop working."""
        book = self.books[shop]
        book.credentials = msgspec.structs.replace(book.credentials, **secret)
        self.expire_tokens(book)


def answered_at(draw: random.Random, asked: float, anchor: float) -> float | None:
    """When the seller answered a message ``asked`` then, if before the sandbox started
    (``anchor``): 1–20 h later, 60 % of the time."""
    at = asked + draw.uniform(1, 20) * HOUR
    return None if at >= anchor or draw.random() >= 0.6 else at
