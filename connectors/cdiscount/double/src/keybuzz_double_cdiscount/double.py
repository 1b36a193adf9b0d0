"""The running Cdiscount double: its shops, tokens, rate limits and faults."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
from keybuzz_sandbox.clock import Clock, SellerTimeline
from keybuzz_sandbox.double_kit.books import shop_view
from keybuzz_sandbox.double_kit.faults import OptInFaults
from keybuzz_sandbox.double_kit.tokens import Issued
from keybuzz_sandbox.faults import WebPageFaults
from keybuzz_sandbox.ratelimit import RateLimit, RateLimiter

from .book import ShopBook
from .generator import ShopGenerator
from .shops import Credentials, ShopSpec, credentials

# Octopia's tokens live 7,200 s (observed: expires_in); in Octopia seconds, scaled.
TOKEN_LIFETIME = 7_200.0
# The token endpoint allows about 500 requests an hour per client (observed).
TOKEN_LIMIT = RateLimit(rate_text=str(500 / 3_600), burst=500)
# Octopia publishes no numbers for the API. The double's assumption: per seller, over
# all calls, 5 requests a second with bursts of 25 (Octopia seconds); beyond, 429 with
# Retry-After. Clients must obey whatever a 429 says, not this figure.
API_LIMIT = RateLimit(rate_text="5", burst=25)
TOKEN_OPERATION = "cdiscount.token"


class Token(msgspec.Struct, frozen=True):
    client_id: str
    seller_id: str
    expires_at: float  # real epoch seconds


class CdiscountFaultConfig(WebPageFaults, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/cdiscount/faults (docs/SANDBOX.md, "Cdiscount double")."""

    # Octopia's 429s are documented without Retry-After: sent only when above 0.
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Listings accept only the observed includeMessages values (no "All", the double's).
    observed_listing_only: bool = False


class CdiscountDouble:
    def __init__(self, seed: str, specs: Iterable[ShopSpec], clock: Clock) -> None:
        self.clock = clock
        self.books: dict[str, ShopBook] = {}
        for spec in specs:
            creds = credentials(seed, spec)
            self.books[creds.seller_id] = ShopBook(
                ShopGenerator(seed, spec, creds.seller_id, clock.anchor),
                SellerTimeline(clock),
                creds,
            )
        self.by_client = {b.credentials.client_id: b for b in self.books.values()}
        self.tokens: Issued[Token] = Issued(clock)
        self.faults = OptInFaults(f"{seed}|cdiscount", CdiscountFaultConfig(), TOKEN_OPERATION)
        self.limiter = RateLimiter(clock)

    def shops(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [shop_view(book, now) for book in self.books.values()]

    # --- tokens -----------------------------------------------------------------------

    def grant(self, client_id: str, client_secret: str) -> tuple[str, Token] | None:
        book = self.by_client.get(client_id)
        if book is not None:
            book.token_requests += 1
        if book is None or not secrets.compare_digest(
            client_secret.encode(), book.credentials.client_secret.encode()
        ):
            return None
        token = Token(client_id, book.seller_id, self.clock.deadline(TOKEN_LIFETIME))
        return self.tokens.issue(secrets.token_urlsafe(48), token), token

    def expire_tokens(self, seller_id: str) -> int:
        return self.tokens.withdraw(lambda granted: granted.seller_id == seller_id)

    def rotate_secret(self, seller_id: str) -> Credentials:
        """A new client secret (the seller regenerated it in its portal): the old secret and
        its tokens stop working."""
        book = self.books[seller_id]
        book.credentials = msgspec.structs.replace(
            book.credentials, client_secret=secrets.token_hex(24)
        )
        self.expire_tokens(seller_id)
        return book.credentials
