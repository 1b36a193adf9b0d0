"""One Back Market shop's data: its orders, and the care folders buyers opened on their
order lines, seeded over the 60 days before the sandbox started and grown, as the double's
clock moves, by buyers (new folders, messages) and Back Market's staff at an hourly rate
(``Activity``). Timestamps are epoch seconds of the double's clock."""

from __future__ import annotations

import math
import random
from typing import Annotated

import msgspec
from keybuzz_sandbox.double_kit.draws import rng
from keybuzz_sandbox.double_kit.history import DAY, HOUR
from keybuzz_sandbox.double_kit.people import FIRST_NAMES, LAST_NAMES
from keybuzz_sandbox.faults import Fraction, ReplyFaults

from .shops import (
    ATTACHMENT_IDS,
    CLAIM_IDS,
    EU_COUNTRIES,
    FOLDER_IDS,
    IDS_PER_SHOP,
    LINE_IDS,
    MESSAGE_IDS,
    ORDER_IDS,
    ShopSpec,
)

SEEDED_SPAN = 60 * DAY

# A message's `initiator` and `kind` (official: `Merchant`, `MERCHANT_TO_ALL`; Back Market
# names its staff `BackMarket` in return labels; the other values are assumed).
CUSTOMER, MERCHANT, BACKMARKET = "Customer", "Merchant", "BackMarket"
KINDS = {
    CUSTOMER: "CUSTOMER_TO_MERCHANT",
    MERCHANT: "MERCHANT_TO_ALL",
    BACKMARKET: "BACKMARKET_TO_MERCHANT",
}
INFORMATIVE_KIND = "BACKMARKET_TO_ALL"  # Back Market's automatic notices
OPEN, CLOSED = 0, 9

# Order states (official): 1 validated, 3 merchant needs to send, 9 sent; order lines:
# 2 validated, 3 shipped, 6 refunded after delivery.
ORDER_SENT, LINE_SHIPPED, LINE_REFUNDED = 9, 3, 6

PRODUCTS = (
    ("iPhone 13 128 Go - Minuit - Débloqué", "Apple", 489.0, "Smartphones"),
    ("Galaxy S22 256 Go - Noir - Débloqué", "Samsung", 379.0, "Smartphones"),
    ('MacBook Air 13" M1 8 Go 256 Go', "Apple", 699.0, "Ordinateurs portables"),
    ("iPad 9 (2021) 64 Go - Gris sidéral", "Apple", 259.0, "Tablettes"),
    ("PlayStation 5 825 Go", "Sony", 399.0, "Consoles"),
    ("AirPods Pro 2", "Apple", 169.0, "Écouteurs"),
)
# (customerIssue, tag): the first is Back Market's example, the others assumed alike.
ISSUES = (
    ("BATTERY_NOT_CHARGING", "TECHNICAL"),
    ("SCREEN_DEFECT", "TECHNICAL"),
    ("ACCOUNT_LOCKED", "TECHNICAL"),
    ("MISSING_PART", "DELIVERY"),
    ("DAMAGED_PACKAGE", "DELIVERY"),
    ("COSMETIC_SCRATCHES", "AESTHETIC"),
)
RESOLUTIONS = ("REMOTE_ASSISTANCE", "REPAIR", "REPLACE", "REPAIR_REPLACE", "REFUND")
WARRANTY_STATES = ("IN_WARRANTY", "WATER_OR_DROPPED", "THIRD_PARTY_REPAIR")
NAMES = {
    "fr-fr": (FIRST_NAMES, LAST_NAMES),
    "de-de": (("Lukas", "Anna", "Jonas", "Lena"), ("Müller", "Schmidt", "Weber", "Fischer")),
    "es-es": (("Lucía", "Hugo", "Martina", "Pablo"), ("García", "López", "Martín", "Ruiz")),
    "it-it": (("Giulia", "Marco", "Sofia", "Luca"), ("Rossi", "Bianchi", "Romano", "Conti")),
}
BUYER_WORDS = {
    "fr-fr": ("Bonjour, mon téléphone ne charge plus depuis hier.", "Toujours rien ?"),
    "de-de": ("Hallo, das Gerät lädt nicht mehr.", "Gibt es Neuigkeiten?"),
    "es-es": ("Hola, el teléfono no carga desde ayer.", "¿Alguna novedad?"),
    "it-it": ("Buongiorno, il telefono non si carica più.", "Ci sono novità?"),
}
MERCHANT_WORDS = "Bonjour, nous sommes désolés : pouvez-vous nous envoyer une photo ?"
STAFF_WORDS = "Back Market : merci d'apporter une solution au client sous 48 h."
NOTICE_WORDS = "Le client a choisi une résolution : {resolution}."


class Attachment(msgspec.Struct, frozen=True):
    attachment_id: int
    name: str
    content: bytes
    created: float
    # Where the message links its file instead of the double's own address (a test's link
    # to a host Back Market does not serve files from).
    link: str | None = None


class Message(msgspec.Struct, frozen=True, kw_only=True):
    message_id: int
    text: str
    created: float
    initiator: str
    kind: str
    informative: bool = False
    attachments: tuple[Attachment, ...] = ()


class Claim(msgspec.Struct, kw_only=True):
    claim_id: int
    issues: tuple[tuple[str, str], ...]
    state: int
    resolution: str
    warranty: str


class Customer(msgspec.Struct, frozen=True):
    customer_id: int
    first_name: str
    last_name: str
    email: str


class Line(msgspec.Struct, kw_only=True):
    line_id: int
    product: tuple[str, str, float, str]  # title, brand, price, category
    product_id: int
    listing_id: int
    sku: str
    quantity: int
    state: int
    created: float


class Order(msgspec.Struct, kw_only=True):
    order_id: int
    country: str
    customer: Customer
    created: float
    modified: float
    shipped: float | None
    state: int
    lines: list[Line]

    @property
    def price(self) -> float:
        return round(sum(line.product[2] * line.quantity for line in self.lines), 2)


class Folder(msgspec.Struct, kw_only=True):
    folder_id: int
    order: Order
    line: Line
    created: float
    modified: float
    closed: float | None = None
    backcare: bool = False
    messages: list[Message] = []
    claims: list[Claim] = []

    @property
    def state(self) -> int:
        return OPEN if self.closed is None else CLOSED

    @property
    def last_message(self) -> float:
        return self.messages[-1].created


DEFAULT_HOURLY_WEIGHTS = (
    # UTC hours of the double's clock: few buyers at night, most in the day and evening
    # (Europe's, one or two hours ahead of UTC).
    (0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 1.9, 2.0, 2.0)
    + (1.9, 1.8, 1.8, 1.9, 1.9, 2.0, 2.3, 2.6, 2.7, 2.3, 1.4, 0.7)
)


class Activity(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """How buyers and Back Market's staff write as the double's clock moves (body of PUT
    /_sandbox/backmarket/activity, docs/SANDBOX.md): each shop's ``buyer_events_per_day``
    times ``multiplier``, ``staff_share`` more by the staff."""

    hourly_weights: list[float] = msgspec.field(default_factory=lambda: [*DEFAULT_HOURLY_WEIGHTS])
    multiplier: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    new_folder_share: Fraction = 0.4
    staff_share: Fraction = 0.05

    def problems(self) -> list[str]:
        issues = []
        if len(self.hourly_weights) != 24 or min(self.hourly_weights, default=0) < 0:
            issues.append("hourlyWeights must be 24 numbers >= 0")
        elif not sum(self.hourly_weights):
            issues.append("hourlyWeights must not all be 0")
        return issues


def poisson(draw: random.Random, mean: float) -> int:
    if mean > 30:  # the normal approximation, where Knuth's product underflows
        return max(0, round(draw.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, draw.random()
    while product > limit:
        count += 1
        product *= draw.random()
    return count


class ShopBook:
    """A shop's orders and care folders; ``play`` brings them to the double's ``now``."""

    def __init__(self, seed: str, spec: ShopSpec, anchor: float) -> None:
        self.reply_faults = ReplyFaults()  # how its threads show and date a seller's reply
        self.seed, self.spec = seed, spec
        self.orders: dict[int, Order] = {}
        self.folders: dict[int, Folder] = {}
        self.attachments: dict[int, Attachment] = {}
        self.sent: list[dict[str, object]] = []
        self.played_until = anchor
        self._next = {
            kind: kind + spec.number * IDS_PER_SHOP + 1
            for kind in (FOLDER_IDS, ORDER_IDS, LINE_IDS, MESSAGE_IDS, ATTACHMENT_IDS, CLAIM_IDS)
        }
        self._seed_history(anchor)

    def new_id(self, kind: int) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    # --- seeded history --------------------------------------------------------------------

    def _seed_history(self, anchor: float) -> None:
        draw = rng(self.seed, "backmarket-history", self.spec.number)
        start = anchor - SEEDED_SPAN
        orders = self.spec.seeded_folders * self.spec.orders_per_folder
        stamps = sorted(start + draw.random() * SEEDED_SPAN for _ in range(orders))
        made = [self.new_order(draw, at, anchor) for at in stamps]
        opened = sorted(
            (min(o.shipped + draw.uniform(HOUR, 20 * DAY), anchor - HOUR), o.order_id)
            for o in draw.sample(made, self.spec.seeded_folders)
            if o.shipped is not None and o.shipped < anchor - 2 * HOUR
        )
        for at, order_id in opened:  # folder ids in the order buyers opened them
            self._seeded_folder(draw, self.orders[order_id], at, anchor)

    def _seeded_folder(self, draw: random.Random, order: Order, opened: float, end: float) -> None:
        folder = self.open_folder(draw, order, opened)
        at = opened
        for _ in range(draw.randint(0, 4)):
            at += draw.uniform(0.5 * HOUR, 2 * DAY)
            if at >= end:
                return
            who = draw.choices((MERCHANT, CUSTOMER, BACKMARKET), (5, 4, 1))[0]
            informative = who == BACKMARKET and draw.random() < 0.5
            self.write(folder, who, self._words(draw, who, folder, informative), at, informative)
        if end - at > 10 * DAY and draw.random() < 0.7:
            self.close(folder, at + 3 * DAY)

    # --- what happens ----------------------------------------------------------------------

    def new_order(self, draw: random.Random, created: float, now: float) -> Order:
        country = self.spec.country if draw.random() < 0.9 else draw.choice(EU_COUNTRIES[:4])
        firsts, lasts = NAMES.get(country, NAMES["fr-fr"])
        first, last = draw.choice(firsts), draw.choice(lasts)
        order_id = self.new_id(ORDER_IDS)
        email = f"{first.lower()}.{last.lower()}.{order_id}@example.com"
        email = email.encode("ascii", "ignore").decode()  # Müller: mller
        customer = Customer(900_000 + order_id % 100_000, first, last, email)
        lines = []
        for _ in range(1 if draw.random() < 0.85 else 2):
            product = draw.choice(PRODUCTS)
            index = PRODUCTS.index(product)
            lines.append(
                Line(
                    line_id=self.new_id(LINE_IDS),
                    product=product,
                    product_id=120_000 + index,
                    listing_id=560_000 + self.spec.number * 10 + index,
                    sku=f"KB-{self.spec.number}-{index:03d}",
                    quantity=1,
                    state=LINE_SHIPPED,
                    created=created,
                )
            )
        shipped = created + draw.uniform(0.5 * DAY, 2 * DAY)
        order = Order(
            order_id=order_id,
            country=country,
            customer=customer,
            created=created,
            modified=min(shipped, now) if shipped < now else created,
            shipped=shipped if shipped < now else None,
            state=ORDER_SENT if shipped < now else 3,
            lines=lines,
        )
        if order.shipped is None:
            for line in lines:
                line.state = 2
        self.orders[order_id] = order
        return order

    def open_folder(
        self,
        draw: random.Random,
        order: Order,
        at: float,
        text: str | None = None,
        files: tuple[tuple[str, bytes] | tuple[str, bytes, str | None], ...] = (),
        claim: bool | None = None,
    ) -> Folder:
        folder = Folder(
            folder_id=self.new_id(FOLDER_IDS),
            order=order,
            line=draw.choice(order.lines),
            created=at,
            modified=at,
            backcare=draw.random() < 0.2,
        )
        if claim if claim is not None else draw.random() < 0.6:
            issues = draw.sample(ISSUES, draw.randint(1, 2))
            folder.claims.append(
                Claim(
                    claim_id=self.new_id(CLAIM_IDS),
                    issues=tuple(issues),
                    state=OPEN,
                    resolution=draw.choice(RESOLUTIONS),
                    warranty=draw.choices(WARRANTY_STATES, (8, 1, 1))[0],
                )
            )
        self.folders[folder.folder_id] = folder
        words = text or self._words(draw, CUSTOMER, folder, False)
        self.write(folder, CUSTOMER, words, at, files=files)
        return folder

    def write(
        self,
        folder: Folder,
        initiator: str,
        text: str,
        at: float,
        informative: bool = False,
        files: tuple[tuple[str, bytes] | tuple[str, bytes, str | None], ...] = (),
    ) -> Message:
        """A message in the folder; the merchant writing in a closed folder reopens it
        (official)."""
        attachments = tuple(
            Attachment(self.new_id(ATTACHMENT_IDS), name, content, at, *link)
            for name, content, *link in files
        )
        for attachment in attachments:
            self.attachments[attachment.attachment_id] = attachment
        message = Message(
            message_id=self.new_id(MESSAGE_IDS),
            text=text,
            created=at,
            initiator=initiator,
            kind=INFORMATIVE_KIND if informative else KINDS[initiator],
            informative=informative,
            attachments=attachments,
        )
        folder.messages.append(message)
        folder.modified = at
        if initiator == MERCHANT and folder.closed is not None:
            folder.closed = None
        return message

    def close(self, folder: Folder, at: float) -> None:
        folder.closed = at
        folder.modified = at
        for claim in folder.claims:
            claim.state = CLOSED

    def _words(self, draw: random.Random, who: str, folder: Folder, informative: bool) -> str:
        if who == CUSTOMER:
            first, later = BUYER_WORDS.get(folder.order.country, BUYER_WORDS["fr-fr"])
            return first if not folder.messages else draw.choice((first, later))
        if who == MERCHANT:
            return MERCHANT_WORDS
        if informative:
            resolution = folder.claims[0].resolution if folder.claims else "REMOTE_ASSISTANCE"
            return NOTICE_WORDS.format(resolution=resolution)
        return STAFF_WORDS

    # --- the clock moving ------------------------------------------------------------------

    def play(self, now: float, activity: Activity) -> dict[str, int]:
        """What buyers and staff did between the last play and ``now``: each hour's events
        are drawn from the seed and the hour, so the same hours give the same events
        whenever they are played."""
        made = {"folders": 0, "messages": 0}
        if now <= self.played_until:
            return made
        start, self.played_until = self.played_until, now
        for hour in range(int(start // HOUR), int(now // HOUR) + 1):
            for at, draw in self._events(hour, activity):
                if start < at <= now:
                    made[self._happen(draw, at, activity)] += 1
        return made

    def _events(self, hour: int, activity: Activity) -> list[tuple[float, random.Random]]:
        draw = rng(self.seed, "backmarket-hour", self.spec.number, hour)
        weights, daily = activity.hourly_weights, self.spec.buyer_events_per_day
        buyers = daily * activity.multiplier * weights[hour % 24] / sum(weights)
        count = poisson(draw, buyers * (1 + activity.staff_share))
        stamps = sorted(hour * HOUR + draw.random() * HOUR for _ in range(count))
        return [(at, rng(self.seed, "backmarket-event", self.spec.number, at)) for at in stamps]

    def _happen(self, draw: random.Random, at: float, activity: Activity) -> str:
        open_folders = [f for f in self.folders.values() if f.closed is None][-10:]
        staff = draw.random() < activity.staff_share / (1 + activity.staff_share)
        if open_folders and (staff or draw.random() >= activity.new_folder_share):
            folder = draw.choice(open_folders)
            who = BACKMARKET if staff else CUSTOMER
            informative = staff and draw.random() < 0.5
            self.write(folder, who, self._words(draw, who, folder, informative), at, informative)
            return "messages"
        order = self.new_order(draw, at - draw.uniform(3 * DAY, 25 * DAY), at)
        order.modified = at
        self.open_folder(draw, order, at)
        return "folders"
