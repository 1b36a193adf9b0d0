"""Deterministic seeded sellers and orders: order ``i`` of a seller computed on demand from
(SANDBOX_SEED, seller id, ``i``), never stored (docs/SANDBOX.md, "Seeded sellers")."""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
import string
from collections.abc import Iterator
from functools import cached_property
from importlib.resources import files

import msgspec
from keybuzz_sandbox.double_kit.draws import digest
from keybuzz_sandbox.double_kit.draws import rng as seeded_rng
from keybuzz_sandbox.double_kit.history import DAY, HOUR, Lifecycle
from keybuzz_sandbox.double_kit.streams import DrawnStreams

MAX_LIFECYCLE = 48 * HOUR  # no order changes status later than this after purchase
BULK_ORDER_PERIOD = 47  # one order in 47 is a large B2B order (items span several pages)
EU_ORDER_PREFIXES = ("171", "402", "403", "404", "405", "406", "407", "408")
NA_ORDER_PREFIXES = ("111", "112", "113", "114")
_HALF = 10**7  # 7-digit halves of the order number (and of a buyer alias's)
ORDER_ID = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")  # an order id, alone or in a text
ORDER_ROUNDS, ALIAS_ROUNDS = range(4), range(4, 8)  # the two permutations' rounds
ALIAS_DIGITS = string.digits + string.ascii_lowercase


class Marketplace(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An Amazon marketplace the sandbox knows (ids are Amazon's): data, marketplaces.json."""

    id: str
    country_code: str
    currency: str
    language: str
    region: str
    vat_rate: float
    name: str  # Amazon.<tld>
    domain_name: str  # www.amazon.<tld>
    relay_domain: str  # the anonymised buyer addresses' domain (Buyer-Seller Messaging)


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in msgspec.json.decode(
        (files(__package__) / "marketplaces.json").read_bytes(), type=list[Marketplace]
    )
}


class SellerSpec(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    seller_id: str
    store_name: str
    registered_email: str  # the seller account's address (Buyer-Seller Messaging)
    marketplace_id: str
    # Orders in any 90 days, of which cancelled (items with QuantityOrdered 0); none given:
    # the bench seller's, SANDBOX_BENCH_ORDERS and 1.5 % of them.
    order_count: int = 0
    cancelled_count: int = 0


def default_sellers(bench_orders: int) -> tuple[SellerSpec, ...]:
    """The seeded sellers: data, seed_sellers.json."""
    listed = (files(__package__) / "seed_sellers.json").read_bytes()
    bench = {"order_count": bench_orders, "cancelled_count": max(1, bench_orders * 3 // 200)}
    return tuple(
        spec if spec.order_count else msgspec.structs.replace(spec, **bench)
        for spec in msgspec.json.decode(listed, type=list[SellerSpec])
    )


class Product(msgspec.Struct, frozen=True):
    sku: str
    asin: str
    title: str
    unit_price_cents: int


class Address(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    line1: str
    city: str
    state: str
    postal_code: str
    country_code: str
    phone: str


class ItemFacts(msgspec.Struct, frozen=True, kw_only=True):
    order_item_id: str
    product: Product
    quantity: int  # as ordered; reported as 0 once the order is cancelled
    shipping_cents: int


class Timeline(Lifecycle, frozen=True, kw_only=True):
    """The cheap part of an order: when it was placed and how its status moves."""

    purchase: float  # virtual epoch seconds
    channel: str  # MFN or AFN


class OrderFacts(msgspec.Struct, frozen=True, kw_only=True):
    timeline: Timeline
    order_id: str
    is_prime: bool
    is_business: bool
    ship_service_level: str
    items: tuple[ItemFacts, ...]
    buyer_name: str
    buyer_email: str
    address: Address

    @property
    def service_category(self) -> str:
        return "Expedited" if self.ship_service_level.startswith("Exp") else "Standard"


# --- language data (marketplace language; English is the fallback) ---------


class RelayMail(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A buyer's relay mail in one language (relay.py), in Amazon's layout."""

    subject: str
    begin: str
    end: str
    order_label: str
    item_label: str
    quantity_label: str
    closing: str
    texts: tuple[str, ...]


class Language(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The words of a marketplace language's seeded orders and relay mails: data, read from
    seed_languages.json (the sandbox's own wording, not Amazon's)."""

    products: tuple[str, ...]
    colours: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str, str], ...]  # (city, state or region, postal code)
    phone_prefix: str
    ship_levels: tuple[str, str]  # (standard, expedited)
    relay_mail: RelayMail


LANGUAGES = msgspec.json.decode(
    (files(__package__) / "seed_languages.json").read_bytes(), type=dict[str, Language]
)


class SellerGenerator(DrawnStreams):
    """All deterministic facts of one seller's orders, placed in time as the double kit's
    streams place a drawn shop's (buyers write through the relay: no offer questions)."""

    def __init__(self, seed: str, spec: SellerSpec, anchor: float) -> None:
        super().__init__((seed, spec.seller_id), spec.order_count, 90 * DAY, anchor, offer_every=1)
        self.spec = spec
        self.marketplace = MARKETPLACES[spec.marketplace_id]
        self.lang = LANGUAGES.get(self.marketplace.language[:2], LANGUAGES["en"])
        self._key = digest(*self.parts, "ids", size=16)

    # --- placement -----------------------------------------------------------

    @cached_property
    def _cancelled_residues(self) -> frozenset[int]:
        # Leave out the orders placed just before the anchor so that every
        # cancellation in the seeded window has already happened at start-up.
        margin = math.ceil(MAX_LIFECYCLE / self.slot) + 1
        pool = range(0, max(self.spec.cancelled_count, self.spec.order_count - margin))
        return frozenset(
            seeded_rng(*self.parts, "cancelled").sample(pool, self.spec.cancelled_count)
        )

    def changing(self, since: float, until: float) -> range:
        """The orders that may change status in (since, until]: those placed by ``until``,
        less those placed so long before ``since`` that their every change is past."""
        return range(
            max(0, self.placed_before(since - MAX_LIFECYCLE) - 2), self.placed_before(until)
        )

    def changes(self, since: float, until: float) -> Iterator[tuple[float, int, str]]:
        """Each status change in (since, until] (virtual): its moment, its order, its status."""
        for index in self.changing(since, until):
            for at, status in self.timeline(index).events:
                if since < at <= until:
                    yield at, index, status

    def timeline(self, index: int) -> Timeline:
        rng = seeded_rng(*self.parts, index, "timeline")
        placed = self.purchase_time(index)
        cancelled = index % self.spec.order_count in self._cancelled_residues
        channel = "AFN" if rng.random() < 0.1 else "MFN"
        events: tuple[tuple[float, str], ...]
        if cancelled:
            events = ((placed, "Pending"), (placed + rng.uniform(300, 1800), "Canceled"))
        else:
            unshipped = placed + rng.uniform(600, HOUR)
            shipped = placed + rng.uniform(6 * HOUR, MAX_LIFECYCLE)
            events = ((placed, "Pending"), (unshipped, "Unshipped"), (shipped, "Shipped"))
        return Timeline(purchase=placed, channel=channel, events=events)

    # --- identifiers ---------------------------------------------------------

    def _round(self, half: int, rnd: int) -> int:
        digest = hashlib.blake2b(f"{rnd}:{half}".encode(), key=self._key, digest_size=8).digest()
        return int.from_bytes(digest, "big") % _HALF

    def _prefix(self, index: int) -> str:
        prefixes = EU_ORDER_PREFIXES if self.marketplace.region == "eu" else NA_ORDER_PREFIXES
        return prefixes[seeded_rng(*self.parts, index, "prefix").randrange(len(prefixes))]

    def _scrambled(self, index: int, rounds: range) -> tuple[int, int]:
        """A keyed Feistel permutation: ids look random yet map back to ``index``."""
        left, right = divmod(index, _HALF)
        for rnd in rounds:
            left, right = right, (left + self._round(right, rnd)) % _HALF
        return left, right

    def _unscrambled(self, left: int, right: int, rounds: range) -> int:
        for rnd in reversed(rounds):
            left, right = (right - self._round(left, rnd)) % _HALF, left
        return left * _HALF + right

    def order_id(self, index: int) -> str:
        left, right = self._scrambled(index, ORDER_ROUNDS)
        return f"{self._prefix(index)}-{left:07d}-{right:07d}"

    def index_of(self, order_id: str) -> int | None:
        if not ORDER_ID.fullmatch(order_id):
            return None
        prefix, left, right = order_id.split("-")
        index = self._unscrambled(int(left), int(right), ORDER_ROUNDS)
        return index if self._prefix(index) == prefix else None

    def buyer_email(self, index: int) -> str:
        """The buyer's anonymised alias: 16 letters and digits, the order's index permuted
        (9) and a check of the seller's (7), so that the alias finds its order unindexed."""
        left, right = self._scrambled(index, ALIAS_ROUNDS)
        number, scrambled = left * _HALF + right, ""
        for _ in range(9):  # 36**9 > _HALF**2
            number, digit = divmod(number, 36)
            scrambled += ALIAS_DIGITS[digit]
        check = digest(self._key, "alias", index).hex()[:7]
        return f"{scrambled}{check}@{self.marketplace.relay_domain}"

    def buyer_index(self, alias: str) -> int | None:
        """The index of the order whose buyer ``alias`` (lower case) is, if any is."""
        scrambled = alias.partition("@")[0][:9]
        if len(scrambled) < 9 or not set(scrambled) <= set(ALIAS_DIGITS):
            return None
        number = int(scrambled[::-1], 36)
        index = self._unscrambled(*divmod(number % _HALF**2, _HALF), ALIAS_ROUNDS)
        return index if self.buyer_email(index) == alias else None

    # --- catalogue and order details -----------------------------------------

    @cached_property
    def catalogue(self) -> tuple[Product, ...]:
        rng = seeded_rng(*self.parts, "catalogue")
        alphabet = string.ascii_uppercase + string.digits
        kinds = itertools.product(self.lang.products, self.lang.colours)
        return tuple(
            Product(
                f"KB-{self.marketplace.country_code}-{n:04d}",
                "B0" + "".join(rng.choice(alphabet) for _ in range(8)),  # the ASIN
                f"{title} - {colour}",
                rng.choice((799, 1299, 1499, 1999, 2490, 2999, 3990, 4999, 7990)),
            )
            for n, (title, colour) in enumerate(kinds)
        )

    def facts(self, index: int) -> OrderFacts:
        rng = seeded_rng(*self.parts, index, "facts")
        order_id = self.order_id(index)
        return OrderFacts(
            timeline=self.timeline(index),
            order_id=order_id,
            is_prime=rng.random() < 0.4,
            is_business=index % BULK_ORDER_PERIOD == 13,
            ship_service_level=self.lang.ship_levels[int(rng.random() < 0.15)],
            items=self._items(rng, index, order_id),
            buyer_name=self._person(rng),
            buyer_email=self.buyer_email(index),
            address=self._address(rng),
        )

    def _items(self, rng: random.Random, index: int, order_id: str) -> tuple[ItemFacts, ...]:
        if index % BULK_ORDER_PERIOD == 13:
            count = rng.randint(21, 25)
        else:
            count = rng.choices((1, 2, 3), weights=(70, 20, 10))[0]
        products = rng.sample(self.catalogue, min(count, len(self.catalogue)))
        digits = order_id.replace("-", "")
        return tuple(
            ItemFacts(
                order_item_id=f"{(int(digits[3:]) * 31 + n) % 10**14:014d}",
                product=product,
                quantity=rng.choices((1, 2, 3), weights=(80, 15, 5))[0],
                shipping_cents=rng.choice((0, 0, 0, 299, 499)),
            )
            for n, product in enumerate(products)
        )

    def _person(self, rng: random.Random) -> str:
        return f"{rng.choice(self.lang.first_names)} {rng.choice(self.lang.last_names)}"

    def _address(self, rng: random.Random) -> Address:
        city, state, postal = rng.choice(self.lang.cities)
        return Address(
            name=self._person(rng),
            line1=f"{rng.randint(1, 120)} {rng.choice(self.lang.streets)}",
            city=city,
            state=state,
            postal_code=postal,
            country_code=self.marketplace.country_code,
            phone=f"{self.lang.phone_prefix} {rng.randint(1000000, 9999999)}",
        )
