"""The running Cdiscount double: its shops, tokens, rate limits and faults."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated

import msgspec
from keybuzz_sandbox.clock import Clock, SellerTimeline
from keybuzz_sandbox.double_kit.drawn import DrawnDouble, Grant
from keybuzz_sandbox.double_kit.faults import OptInFaults
from keybuzz_sandbox.faults import WebPageFaults
from keybuzz_sandbox.ratelimit import RateLimit

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


class CdiscountFaultConfig(WebPageFaults, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/cdiscount/faults (docs/SANDBOX.md, "Cdiscount double")."""

    # Octopia's 429s are documented without Retry-After: sent only when above 0.
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Listings accept only the observed includeMessages values (no "All", the double's).
    observed_listing_only: bool = False


class CdiscountDouble(DrawnDouble[ShopBook]):
    def __init__(self, seed: str, specs: Iterable[ShopSpec], clock: Clock) -> None:
        books = {}
        for spec in specs:
            creds = credentials(seed, spec)
            books[creds.seller_id] = ShopBook(
                ShopGenerator(seed, spec, creds.seller_id, clock.anchor),
                SellerTimeline(clock),
                creds,
            )
        super().__init__(clock, books)
        self.by_client = {b.credentials.client_id: b for b in books.values()}
        self.faults = OptInFaults(f"{seed}|cdiscount", CdiscountFaultConfig(), TOKEN_OPERATION)

    def client_grant(self, client_id: str, client_secret: str) -> tuple[str, Grant] | None:
        book = self.by_client.get(client_id)
        return self.grant(
            "" if book is None else book.seller_id,
            client_id,
            lambda book: secrets.compare_digest(
                client_secret.encode(), book.credentials.client_secret.encode()
            ),
            TOKEN_LIFETIME,
            secrets.token_urlsafe(48),
        )

    def rotate_secret(self, seller_id: str) -> Credentials:
        """A new client secret (the seller regenerated it in its portal)."""
        self.renew(seller_id, client_secret=secrets.token_hex(24))
        return self.books[seller_id].credentials
