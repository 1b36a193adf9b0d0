"""Deterministic facts of one Cdiscount shop: orders (the kit's ``DrawnStreams``), and
buyers' discussions about them, computed from (SANDBOX_SEED, shop, i), nothing stored.
Times are virtual (clock.py); the book turns them into real timestamps."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from functools import lru_cache

import msgspec
from keybuzz_sandbox.double_kit.drawn import answered_at
from keybuzz_sandbox.double_kit.draws import numeric_id, rng, unit
from keybuzz_sandbox.double_kit.history import DAY, HOUR, Lifecycle, order_path
from keybuzz_sandbox.double_kit.people import FIRST_NAMES, LAST_NAMES
from keybuzz_sandbox.double_kit.streams import DrawnStreams

from .shops import ShopSpec

WINDOW = 90 * DAY
OFFER_QUESTIONS_EVERY = 10

CUSTOMER, SELLER, GRC = "Customer", "Seller", "GrcOperator"
DISCUSSION, CLAIM, LEVEL_1 = "Discussion", "Claim", "Level_1"
GRADUATIONS = (DISCUSSION, CLAIM, LEVEL_1)
CLAIMS = frozenset({CLAIM, LEVEL_1})
# Sales channels: CDISFR is Cdiscount's (official); the others are the double's own codes,
# so that clients meet more than one.
SALES_CHANNELS = ("CDISFR", "CDISBE", "CDISES")
_CHANNEL_WEIGHTS = (85, 10, 5)

# typology -> sub-typology -> label. Order's codes are Octopia's (official examples);
# Offer's are the double's own.
TYPOLOGIES: dict[str, dict[str, str]] = {
    "Order": {
        "orderNotShipped": "Commande non expédiée",
        "productIsDamaged": "Produit endommagé",
        "wrongProductReceived": "Produit reçu non conforme",
        "orderCancellation": "Annulation de commande",
        "missingItemInProduct": "Pièce manquante",
        "printReceipt": "Facture",
    },
    "Offer": {
        "productInformation": "Information sur le produit",
        "deliveryInformation": "Information sur la livraison",
    },
}
_QUESTIONS = {
    "orderNotShipped": "Bonjour, ma commande n'est toujours pas expédiée, pouvez-vous me dire quand elle partira ?",
    "orderCancellation": "Bonjour, je souhaite annuler ma commande, est-ce encore possible ?",
    "printReceipt": "Bonjour, pourriez-vous m'envoyer la facture de ma commande s'il vous plaît ?",
}
_CLAIMS = {
    "productIsDamaged": "Bonjour, le produit est arrivé cassé, le carton était enfoncé. Je demande un remboursement.",
    "wrongProductReceived": "Bonjour, j'ai reçu un autre article que celui commandé. Que dois-je faire ?",
    "missingItemInProduct": "Bonjour, il manque une pièce dans le colis (la notice parle de deux câbles).",
}
_OFFER_QUESTIONS = {
    "productInformation": "Bonjour, ce produit est-il compatible avec la version 2 ?",
    "deliveryInformation": "Bonjour, livrez-vous en Corse et sous quel délai ?",
}
_FOLLOW_UP = "Je n'ai toujours pas de réponse, merci de revenir vers moi rapidement."
_ANSWER = "Bonjour, merci pour votre message. Nous revenons vers vous sous 24 h avec une solution."
_GRC_TEXT = (
    "Bonjour, le client nous a sollicités au sujet de cette commande. Merci de lui apporter "
    "une réponse sous 48 heures. Le Service Client Cdiscount."
)
_PRODUCTS = (
    ("Aspirateur robot connecté", 249.99),
    ("Casque audio sans fil", 59.9),
    ("Machine à café à grain", 329.0),
    ("Coque de téléphone renforcée", 9.99),
    ("Lot de 4 poêles antiadhésives", 44.5),
    ("Trottinette électrique 25 km/h", 399.0),
    ("Chargeur USB-C 65 W", 24.9),
)


class OrderFacts(Lifecycle, frozen=True, kw_only=True):
    index: int
    order_id: str  # also its reference, Cdiscount's order number
    placed: float
    sales_channel: str


class AttachmentFacts(msgspec.Struct, frozen=True, kw_only=True):
    attachment_id: str
    name: str
    file_format: str
    size: int


class MessageFacts(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    sender_type: str  # Customer, Seller or GrcOperator
    sender_id: str
    receivers: tuple[tuple[str, str], ...]  # (userId, userType)
    body: str
    created: float  # virtual
    attachments: tuple[AttachmentFacts, ...] = ()


class DiscussionFacts(msgspec.Struct, frozen=True, kw_only=True):
    discussion_id: str
    order_index: int | None  # None: a question about an offer
    order_id: str | None
    sales_channel: str
    customer_id: str
    typology: str
    sub_typology: str
    subject: str
    messages: tuple[MessageFacts, ...]  # all of them, future ones too
    graduations: tuple[tuple[float, str], ...]  # (virtual time, graduation), in time order
    closed_at: float | None  # virtual: the seller closed it then (after answering)

    @property
    def opened(self) -> float:
        return self.messages[0].created


def order_id(placed: float, index: int) -> str:
    """Cdiscount's style of order number: the minute it was placed (yymmddHHMM) and
    letters that spell the order's index (so the id leads back to its order)."""
    letters, rest = [], index
    for _ in range(5):
        rest, digit = divmod(rest, 26)
        letters.append(string.ascii_uppercase[digit])
    return datetime.fromtimestamp(placed, UTC).strftime("%y%m%d%H%M") + "".join(reversed(letters))


def index_of(value: str) -> int | None:
    letters = value[10:]
    if len(value) != 15 or not letters.isascii() or not letters.isupper():
        return None
    index = 0
    for letter in letters:
        index = index * 26 + string.ascii_uppercase.index(letter)
    return index


class ShopGenerator(DrawnStreams):
    def __init__(self, seed: str, spec: ShopSpec, seller_id: str, anchor: float) -> None:
        super().__init__((seed, seller_id), spec.order_count, WINDOW, anchor, OFFER_QUESTIONS_EVERY)
        self.seed = seed
        self.spec = spec
        self.seller_id = seller_id
        self.grc_id = numeric_id(seed, "grc-operator", digits=8)
        self.order = lru_cache(maxsize=65_536)(self._order)

    # --- orders -----------------------------------------------------------------------

    def _order(self, index: int) -> OrderFacts:
        draw = rng(self.seed, self.seller_id, index, "order")
        placed = self.purchase_time(index)
        return OrderFacts(
            index=index,
            order_id=order_id(placed, index),
            placed=placed,
            sales_channel=draw.choices(SALES_CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
            events=_events(draw, placed),
        )

    def customer(self, index: int) -> tuple[str, str, str]:
        """(customerId, first name, last name) of order ``index``'s buyer."""
        draw = rng(self.seed, self.seller_id, index, "customer")
        customer_id = numeric_id(self.seed, self.seller_id, "customer", index, digits=9)
        return customer_id, draw.choice(FIRST_NAMES), draw.choice(LAST_NAMES)

    def lines(self, index: int) -> list[tuple[str, str, int, float]]:
        """(sellerProductId, title, quantity, unit price) of order ``index``'s lines."""
        draw = rng(self.seed, self.seller_id, index, "lines")
        count = draw.choices((1, 2, 3), weights=(75, 18, 7))[0]
        picked = draw.sample(range(len(_PRODUCTS)), count)
        return [
            (f"SKU-C{n:04d}", _PRODUCTS[n][0], draw.choice((1, 1, 1, 2)), _PRODUCTS[n][1])
            for n in picked
        ]

    # --- discussions ------------------------------------------------------------------

    def order_discussions(self, index: int) -> list[DiscussionFacts]:
        order = self.order(index)
        asks, claims = self.talked_about(index, self.spec.claim_rate)
        draw = rng(self.seed, self.seller_id, index, "discussions")
        found = []
        if asks:
            sub = draw.choice(tuple(_QUESTIONS))
            at = order.placed + draw.uniform(3 * HOUR, 4 * DAY)
            escalates = sub == "orderNotShipped" and draw.random() < 0.2
            found.append(self._discussion(draw, order, "ask", sub, _QUESTIONS[sub], at, escalates))
        shipped = order.reached("Shipped")
        if claims and shipped is not None:
            sub = draw.choice(tuple(_CLAIMS))
            at = shipped + draw.uniform(2, 8) * DAY
            found.append(self._discussion(draw, order, "claim", sub, _CLAIMS[sub], at, True))
        return found

    def _discussion(
        self,
        draw: random.Random,
        order: OrderFacts,
        kind: str,
        sub: str,
        text: str,
        at: float,
        claim: bool,
    ) -> DiscussionFacts:
        customer_id = self.customer(order.index)[0]
        messages = [self.message(order.index, kind, 0, CUSTOMER, customer_id, text, at)]
        if draw.random() < 0.3:
            follow = at + draw.uniform(1, 3) * DAY
            messages.append(
                self.message(order.index, kind, 1, CUSTOMER, customer_id, _FOLLOW_UP, follow)
            )
        graduations = [(at, CLAIM if claim and kind == "claim" else DISCUSSION)]
        if claim and kind == "ask":  # a question that becomes a claim three days later
            graduations.append((at + 3 * DAY, CLAIM))
        if claim and draw.random() < self.spec.grc_rate:
            grc_at = at + draw.uniform(1, 3) * DAY
            messages.append(self.message(order.index, kind, 2, GRC, self.grc_id, _GRC_TEXT, grc_at))
            graduations.append((grc_at, LEVEL_1))
        answer = self._seeded_answer(draw, messages, (order.index, kind, 3))
        closes = answer is not None and answer.created < self.anchor - 20 * DAY
        return self.about_order(
            numeric_id(self.seed, self.seller_id, "discussion", kind, order.index, digits=9),
            order,
            sub,
            messages,
            graduations,
            closed_at=answer.created + DAY if closes and answer is not None else None,
        )

    def about_order(
        self,
        discussion_id: str,
        order: OrderFacts,
        sub: str,
        messages: list[MessageFacts],
        graduations: list[tuple[float, str]],
        closed_at: float | None = None,
    ) -> DiscussionFacts:
        """A discussion about ``order`` (typology Order) between its buyer and the seller."""
        return DiscussionFacts(
            discussion_id=discussion_id,
            order_index=order.index,
            order_id=order.order_id,
            sales_channel=order.sales_channel,
            customer_id=self.customer(order.index)[0],
            typology="Order",
            sub_typology=sub,
            subject=TYPOLOGIES["Order"][sub],
            messages=tuple(sorted(messages, key=lambda m: m.created)),
            graduations=tuple(sorted(graduations)),
            closed_at=closed_at,
        )

    def message(
        self,
        index: int,
        kind: str,
        position: int,
        sender: str,
        sender_id: str,
        body: str,
        at: float,
    ) -> MessageFacts:
        message_id = numeric_id(self.seed, self.seller_id, "message", kind, index, position)
        receiver = (self.seller_id, SELLER)
        attachments: tuple[AttachmentFacts, ...] = ()
        if sender == CUSTOMER and kind == "claim" and position == 0:
            size = 20_000 + int(unit(self.seed, message_id, "photo") * 300_000)
            photo = AttachmentFacts(
                attachment_id=numeric_id(self.seed, message_id, "attachment"),
                name="photo-colis.jpg",
                file_format="jpg",
                size=size,
            )
            attachments = (photo,)
        return MessageFacts(
            message_id=message_id,
            sender_type=sender,
            sender_id=sender_id,
            receivers=(receiver,),
            body=body,
            created=at,
            attachments=attachments,
        )

    def _seeded_answer(
        self, draw: random.Random, messages: list[MessageFacts], key: tuple[int, str, int]
    ) -> MessageFacts | None:
        """The seller's answer to the buyer's first message, added to ``messages``, if given
        before the sandbox started (60 % of discussions); ``key``: index, kind, position."""
        asked = messages[0]
        at = answered_at(draw, asked.created, self.anchor)
        if at is None:
            return None
        answer = self.message(*key, SELLER, self.seller_id, _ANSWER, at)
        messages.append(msgspec.structs.replace(answer, receivers=((asked.sender_id, CUSTOMER),)))
        return messages[-1]

    def offer_discussion(self, index: int) -> DiscussionFacts:
        draw = rng(self.seed, self.seller_id, index, "offer-question")
        sub = draw.choice(tuple(_OFFER_QUESTIONS))
        at = self.offer_question_time(index)
        customer_id = numeric_id(self.seed, self.seller_id, "offer-customer", index, digits=9)
        messages = [
            self.message(index, "offer", 0, CUSTOMER, customer_id, _OFFER_QUESTIONS[sub], at)
        ]
        self._seeded_answer(draw, messages, (index, "offer", 1))
        return DiscussionFacts(
            discussion_id=numeric_id(
                self.seed, self.seller_id, "discussion", "offer", index, digits=9
            ),
            order_index=None,
            order_id=None,
            sales_channel=draw.choices(SALES_CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
            customer_id=customer_id,
            typology="Offer",
            sub_typology=sub,
            subject=TYPOLOGIES["Offer"][sub],
            messages=tuple(messages),
            graduations=((at, DISCUSSION),),
            closed_at=None,
        )


def _events(draw: random.Random, placed: float) -> tuple[tuple[float, str], ...]:
    """Processing, WaitingAcceptance 5–30 min later (unless cancelled before), then on."""
    waiting = placed + draw.uniform(5, 30) * 60
    path = order_path(draw, waiting, ("Accepted", "InPreparation", "Shipped", "Delivered"))
    waited = [] if path[0][1] == "Cancelled" else [(waiting, "WaitingAcceptance")]
    return ((placed, "Processing"), *waited, *path)
