"""The running Fnac/Darty double: its shops, tokens, faults and rate limit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

import msgspec
from keybuzz_sandbox.clock import Clock, SellerTimeline
from keybuzz_sandbox.double_kit.books import shop_view
from keybuzz_sandbox.double_kit.drawn import DrawnDouble, Grant
from keybuzz_sandbox.double_kit.faults import OptInFaults
from keybuzz_sandbox.faults import XML_KINDS, NextCount, SlowFaultConfig
from keybuzz_sandbox.ratelimit import RateLimit
from keybuzz_sandbox.state import PersistentState

from .book import ShopBook
from .generator import ShopGenerator
from .shops import Credentials, ShopSpec, credentials, uuid_from

# Fnac publishes no token lifetime; the double's tokens live an hour (Fnac seconds,
# divided by the time scale), and the auth response's `validity` says until when.
TOKEN_LIFETIME = 3_600.0
# Fnac publishes no rate limit. The double's assumption: per shop, over all services,
# 2 requests per second with bursts of 20 (Fnac seconds); beyond it, HTTP 429 with
# Retry-After. Clients must obey whatever a 429 or an ERR_ code says.
RATE_LIMIT = RateLimit(rate_text="2", burst=20)
FAULT_STATUSES = frozenset({429, 500, 502, 503, 504})
# An XML API's hostile bodies, and Fnac's own (routes.malform).
MALFORMED_KINDS = (*XML_KINDS, "schema", "utf7-entities", "empty")
RefusalCode = Annotated[str, msgspec.Meta(pattern=r"^ERR_\d{3}$")]


class FnacFaultConfig(SlowFaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/fnac/faults (docs/SANDBOX.md, "Fnac / Darty double"): with
    ``refuse_next``, the next requests of the named services refused as a whole."""

    malformed_kinds: ClassVar[tuple[str, ...]] = MALFORMED_KINDS
    error_statuses_taken: ClassVar[frozenset[int]] = FAULT_STATUSES
    fail_statuses_taken: ClassVar[frozenset[int]] = FAULT_STATUSES

    malformed_kind: str = "truncated"
    refuse_next: NextCount = 0
    refuse_codes: Annotated[list[RefusalCode], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["ERR_201"]
    )


AUTH_OPERATION = "fnac.auth"


class FnacFaults(OptInFaults):
    def refusal(self, op_key: str) -> tuple[str, ...]:
        """The codes to refuse this request with, if it is one of the next ones refused."""
        config = self.config
        if not isinstance(config, FnacFaultConfig) or config.refuse_next <= 0:
            return ()
        if not self.applies_to(op_key):
            return ()
        config.refuse_next -= 1
        return tuple(config.refuse_codes)


class Kept(msgspec.Struct, kw_only=True):
    """What the double keeps in the sandbox's state across restarts (under "fnac")."""

    advances: dict[str, list[tuple[float, float]]] = msgspec.field(default_factory=dict)
    keys: dict[str, str] = msgspec.field(default_factory=dict)  # rotated at run time


class FnacDouble(DrawnDouble[ShopBook]):
    def __init__(
        self,
        seed: str,
        specs: Iterable[ShopSpec],
        clock: Clock,
        state: PersistentState,
        public_url: str = "",
    ) -> None:
        self.state = state
        self.kept = msgspec.convert(state.doubles.get("fnac", {}), Kept)
        books: dict[str, ShopBook] = {}
        for spec in specs:
            creds = credentials(seed, spec)
            key = self.kept.keys.get(creds.shop_id, creds.key)
            jumps = list(self.kept.advances.get(creds.shop_id, []))
            books[creds.shop_id] = ShopBook(
                ShopGenerator(seed, spec, creds.shop_id, clock.anchor),
                SellerTimeline(clock, jumps),
                msgspec.structs.replace(creds, key=key),
                public_url,
            )
        super().__init__(clock, books)
        self.faults = FnacFaults(f"{seed}|fnac", FnacFaultConfig(), AUTH_OPERATION)

    def shops(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {"marketplace": book.gen.spec.marketplace, **shop_view(book, now)}
            for book in self.books.values()
        ]

    def record(self) -> None:
        """Writes what it keeps into the sandbox's state (before each save)."""
        self.kept.advances = {sid: list(b.timeline.jumps) for sid, b in self.books.items()}
        self.state.doubles["fnac"] = msgspec.to_builtins(self.kept)

    # --- authentication -------------------------------------------------------------

    def authenticate(self, partner_id: str, shop_id: str, key: str) -> tuple[str, Grant] | None:
        """A token for a shop's right ids (any case) and key. Whatever the shop's marketplace:
        Fnac's ``auth`` names none, and a request cannot say which one the caller means."""
        partner = partner_id.upper()

        def matches(book: ShopBook) -> bool:
            creds = book.credentials
            return secrets.compare_digest(partner, creds.partner_id) and secrets.compare_digest(
                key, creds.key
            )

        return self.grant(shop_id.upper(), partner, matches, TOKEN_LIFETIME, _uuid())

    def book_for(self, partner_id: str, shop_id: str, token: str) -> ShopBook | None:
        """The shop a request's token opens, or None (re-authentication needed)."""
        granted = self.tokens.valid(token.upper())
        if (
            granted is None
            or granted.shop != shop_id.upper()
            or granted.caller != partner_id.upper()
        ):
            return None
        return self.books[granted.shop]

    def rotate_key(self, shop_id: str) -> Credentials:
        self.renew(shop_id, key=_uuid())
        self.kept.keys[shop_id] = self.books[shop_id].credentials.key
        return self.books[shop_id].credentials


def _uuid() -> str:
    """A fresh id in Fnac's style (a token, a rotated key)."""
    return uuid_from(secrets.token_hex(16))
