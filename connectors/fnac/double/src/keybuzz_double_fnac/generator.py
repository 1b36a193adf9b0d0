"""Deterministic facts of one Fnac/Darty shop: orders, buyers' messages, incidents,
computed from (SANDBOX_SEED, shop, i) when asked for (``DrawnStreams`` places them); an
order's id is Fnac's PHP ``uniqid()`` of its moment, so it maps back to its index."""

from __future__ import annotations

import random
from functools import cached_property
from importlib import resources

import msgspec
from keybuzz_sandbox.double_kit.drawn import answered_at
from keybuzz_sandbox.double_kit.draws import rng as seeded_rng
from keybuzz_sandbox.double_kit.draws import unit
from keybuzz_sandbox.double_kit.history import DAY, HOUR, Lifecycle, order_path
from keybuzz_sandbox.double_kit.people import FIRST_NAMES, LAST_NAMES, STREETS, TOWNS
from keybuzz_sandbox.double_kit.streams import DrawnStreams

from .shops import ShopSpec, uuid_from

OFFER_QUESTIONS_EVERY = 3  # one question about an offer for every three orders
STATES = ("Accepted", "ToShip", "Shipped", "Received")  # Fnac's words on the shipping path

# order state -> the state its lines show, where the two differ (state.xsd: order_state,
# order_detail_state); a line of any other state shows its order's word.
LINE_STATE = {"Created": "ToAccept"}


def uniqid(virtual: float) -> str:
    seconds = int(virtual)
    micros = int((virtual - seconds) * 1_000_000) % 1_000_000
    return f"{seconds:08X}{micros:05X}"


class Product(msgspec.Struct, frozen=True):
    fnac_id: str
    name: str
    price: float
    offer_fnac_id: str
    offer_seller_id: str


class Line(msgspec.Struct, frozen=True, kw_only=True):
    detail_id: int
    product: Product
    quantity: int
    shipping_price: float

    @property
    def fees(self) -> float:
        return round(self.product.price * self.quantity * 0.12, 2)


class Address(msgspec.Struct, frozen=True, kw_only=True):
    firstname: str
    lastname: str
    address1: str
    zipcode: str
    city: str


class OrderFacts(Lifecycle, frozen=True, kw_only=True):
    index: int
    order_id: str
    placed: float  # virtual
    client_id: str
    client_firstname: str
    client_lastname: str
    client_email: str
    address: Address
    lines: tuple[Line, ...]

    @property
    def buyer_name(self) -> str:
        return f"{self.client_firstname} {self.client_lastname[0]}."


class FileFacts(msgspec.Struct, frozen=True, kw_only=True):
    """A file a message links (``message_file``), served at ``GET /fnac/files/<file_id>``."""

    file_id: str
    name: str
    filetype: str  # a MIME type
    size: int  # bytes
    url: str | None = None  # listed instead of the double's own (which serves it)


# The share of buyers' seeded messages that link a photo, and the photos' sizes.
PHOTO_RATE = 0.15
PHOTO_SIZES = (20_000, 400_000)


class MessageFacts(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    referer_type: str  # ORDER or OFFER
    referer: str  # order id or offer_fnac_id
    order_index: int | None
    from_type: str  # CLIENT, CALLCENTER or SELLER
    from_name: str
    subject: str
    description: str
    created: float  # virtual
    offer_title: str | None = None
    # The seller's answer from before the sandbox started (virtual time), if any.
    answered: float | None = None
    answer: str | None = None
    archived: bool = False
    files: tuple[FileFacts, ...] = ()


class IncidentFacts(msgspec.Struct, frozen=True, kw_only=True):
    incident_id: str
    order_index: int
    order_id: str
    opened: float  # virtual
    type_code: str  # state.xsd incident_open_state: 1 not received, 2 unlike, 3 defective
    detail_ids: tuple[int, ...]
    message: str
    closed: float | None  # virtual; None: stays open until the seller refunds
    closed_status: str | None  # state.xsd incident_close_state


class Texts(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The words of the seeded shops: data, read from seed_texts.json (the double's own
    wording, not Fnac's)."""

    products: dict[str, tuple[tuple[str, float], ...]]  # by marketplace: (name, price)
    questions: tuple[tuple[str, str], ...]  # (subject, text)
    follow_ups: tuple[str, ...]
    offer_questions: tuple[str, ...]
    answers: tuple[str, ...]
    incident_types: dict[str, str]  # state.xsd incident_open_state -> the buyer's reason
    problems: tuple[str, ...]  # what the buyer adds to an incident's text
    callcenter: tuple[str, str]  # (subject, text) of customer service stepping in


TEXTS = msgspec.json.decode(
    (resources.files(__package__) / "seed_texts.json").read_bytes(), type=Texts
)
NEW_CLAIM_SUBJECT = "Nouvelle réclamation"  # the message every incident also appears as


class ShopGenerator(DrawnStreams):
    def __init__(self, seed: str, spec: ShopSpec, shop_id: str, anchor: float) -> None:
        super().__init__((seed, shop_id), spec.order_count, 90 * DAY, anchor, OFFER_QUESTIONS_EVERY)
        self.seed = seed
        self.spec = spec
        self.shop_id = shop_id
        self.callcenter = f"Service Client {spec.marketplace.title()}"

    def order_id(self, index: int) -> str:
        return uniqid(self.purchase_time(index))

    def index_of(self, order_id: str) -> int | None:
        if len(order_id) != 13:
            return None
        try:
            seconds, micros = int(order_id[:8], 16), int(order_id[8:], 16)
        except ValueError:
            return None
        guess = self.placed_before(seconds + micros / 1_000_000 + 1e-6) - 1
        for index in (guess - 1, guess, guess + 1):
            if index >= 0 and self.order_id(index) == order_id.upper():
                return index
        return None

    # --- catalogue and orders ---------------------------------------------------

    @cached_property
    def catalogue(self) -> tuple[Product, ...]:
        rng = seeded_rng(self.seed, self.shop_id, "catalogue")
        return tuple(
            Product(
                fnac_id=str(rng.randint(200_000, 30_000_000)),
                name=name,
                price=price,
                offer_fnac_id=uuid_from(self.seed, self.shop_id, "offer", n),
                offer_seller_id=f"SKU-{self.spec.marketplace[0]}{n:04d}",
            )
            for n, (name, price) in enumerate(TEXTS.products[self.spec.marketplace])
        )

    def order(self, index: int) -> OrderFacts:
        rng = seeded_rng(self.seed, self.shop_id, index, "order")
        placed = self.purchase_time(index)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, zipcode = rng.choice(TOWNS)
        count = rng.choices((1, 2, 3), weights=(75, 18, 7))[0]
        lines = tuple(
            Line(
                detail_id=n + 1,
                product=product,
                quantity=rng.choices((1, 2), weights=(90, 10))[0],
                shipping_price=rng.choice((0.0, 1.0, 4.0, 6.99)),
            )
            for n, product in enumerate(rng.sample(self.catalogue, count))
        )
        return OrderFacts(
            index=index,
            order_id=uniqid(placed),
            placed=placed,
            client_id=uuid_from(self.seed, self.shop_id, "client", index).lower(),
            client_firstname=first,
            client_lastname=last,
            client_email=f"{first[0].lower()}{index % 9973}@client.example",
            address=Address(
                firstname=first,
                lastname=last,
                address1=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                zipcode=zipcode,
                city=city,
            ),
            lines=lines,
            events=((placed, "Created"), *order_path(rng, placed, STATES)),
        )

    # --- messages and incidents ---------------------------------------------------

    def _seeded_answer(self, rng: random.Random, created: float) -> tuple[float, str] | None:
        """When and how the seller answered a message, if before the sandbox started."""
        at = answered_at(rng, created, self.anchor)
        return None if at is None else (at, rng.choice(TEXTS.answers))

    def _with_answer(
        self, asked: MessageFacts, seeded: tuple[float, str] | None, answer_id: str, subject: str
    ) -> list[MessageFacts]:
        """``asked``, and the seller's ``seeded`` answer to it on its thread if any (the
        question READ with its ``answer``, archived when older than 30 days)."""
        if seeded is None:
            return [asked]
        at, text = seeded
        archived = at < self.anchor - 30 * DAY
        return [
            msgspec.structs.replace(asked, answered=at, answer=text, archived=archived),
            self.seller_message(asked, answer_id, subject, text, at),
        ]

    def thread(self, order: OrderFacts) -> tuple[list[MessageFacts], IncidentFacts | None]:
        """The messages about one order (and its incident): all of them, future ones too."""
        rng = seeded_rng(self.seed, self.shop_id, order.index, "thread")
        messages: list[MessageFacts] = []
        asks, claims = self.talked_about(order.index, self.spec.claim_rate)

        def add(from_type: str, subject: str, text: str, at: float) -> None:
            seeded = self._seeded_answer(rng, at)
            message_id, answer_id = (
                uuid_from(self.seed, self.shop_id, "message", order.index, len(messages) + n)
                for n in (0, 1)
            )
            files = self._photo(message_id) if from_type == "CLIENT" else ()
            asked = self.order_message(order, message_id, from_type, subject, text, at, files)
            messages.extend(self._with_answer(asked, seeded, answer_id, "order_information"))

        if asks:
            subject, text = rng.choice(TEXTS.questions)
            asked = order.placed + rng.uniform(3 * HOUR, 5 * DAY)
            add("CLIENT", subject, text, asked)
            if rng.random() < 0.3:
                follow_up = asked + rng.uniform(1, 3) * DAY
                add("CLIENT", subject, rng.choice(TEXTS.follow_ups), follow_up)
        incident = self._incident(rng, order) if claims else None
        if incident is not None:
            add("CLIENT", NEW_CLAIM_SUBJECT, incident.message, incident.opened)
            if rng.random() < 0.5:
                subject, text = TEXTS.callcenter
                add("CALLCENTER", subject, text, incident.opened + rng.uniform(1, 3) * DAY)
        return messages, incident

    def _photo(self, message_id: str) -> tuple[FileFacts, ...]:
        """A buyer's photo for some messages, decided by the message's id alone (the
        thread's random draws stay as they are)."""
        if unit(self.seed, message_id, "photo") >= PHOTO_RATE:
            return ()
        low, high = PHOTO_SIZES
        size = low + int(unit(self.seed, message_id, "photo-size") * (high - low))
        file_id = uuid_from(self.seed, message_id, "file", 0)
        return (
            FileFacts(file_id=file_id, name="photo-colis.jpg", filetype="image/jpeg", size=size),
        )

    def order_message(
        self,
        order: OrderFacts,
        message_id: str,
        from_type: str,
        subject: str,
        text: str,
        at: float,
        files: tuple[FileFacts, ...] = (),
    ) -> MessageFacts:
        """A message about ``order`` from its buyer (CLIENT), Fnac's customer service
        (CALLCENTER) or the seller in Fnac's back office (SELLER)."""
        names = {"CLIENT": order.buyer_name, "SELLER": self.spec.name}
        return MessageFacts(
            message_id=message_id,
            referer_type="ORDER",
            referer=order.order_id,
            order_index=order.index,
            from_type=from_type,
            from_name=names.get(from_type, self.callcenter),
            subject=subject,
            description=text,
            created=at,
            files=files,
        )

    def seller_message(
        self, asked: MessageFacts, message_id: str, subject: str, text: str, at: float
    ) -> MessageFacts:
        """The seller's message ``text`` on the thread of ``asked`` (a seeded answer, a reply)."""
        return MessageFacts(
            message_id=message_id,
            referer_type=asked.referer_type,
            referer=asked.referer,
            order_index=asked.order_index,
            from_type="SELLER",
            from_name=self.spec.name,
            subject=subject,
            description=text,
            created=at,
            offer_title=asked.offer_title,
        )

    def incident(
        self,
        order: OrderFacts,
        type_code: str,
        lines: tuple[Line, ...],
        opened: float,
        problem: str = "",
        closed: tuple[float, str] | None = None,
    ) -> IncidentFacts:
        """The buyer's incident of ``type_code`` on ``lines`` of ``order`` (``closed``: when
        Fnac's customer service closes it, and its closed_status); its text, that of its
        'Nouvelle réclamation' message too, as recorded."""
        text = [
            "Une réclamation a été ouverte sur cette commande concernant le(s) article(s) suivant(s) :"
        ]
        reason = TEXTS.incident_types[type_code]
        for line in lines:
            text += [f"Motif de la réclamation : {reason} - ", f"Article : {line.product.name}"]
        return IncidentFacts(
            incident_id=uuid_from(self.seed, self.shop_id, "incident", order.index),
            order_index=order.index,
            order_id=order.order_id,
            opened=opened,
            type_code=type_code,
            detail_ids=tuple(line.detail_id for line in lines),
            message="\n".join(text) + f"\n\nDescription du problème{problem}",
            closed=closed[0] if closed else None,
            closed_status=closed[1] if closed else None,
        )

    def _incident(self, rng: random.Random, order: OrderFacts) -> IncidentFacts | None:
        shipped = order.reached("Shipped")
        if shipped is None:
            return None
        type_code = rng.choice(("1", "1", "2", "3"))
        affected = order.lines[: rng.randint(1, len(order.lines))]
        opened = shipped + rng.uniform(2, 8) * DAY
        closes = rng.random() < 0.6
        problem = rng.choice(TEXTS.problems)
        closed = (
            (opened + rng.uniform(5, 12) * DAY, rng.choice(("3", "4", "13"))) if closes else None
        )
        return self.incident(order, type_code, affected, opened, problem, closed)

    def offer_question(self, index: int) -> list[MessageFacts]:
        """A buyer's question about an offer (no order yet), with its seeded answer."""
        rng = seeded_rng(self.seed, self.shop_id, index, "offer-question")
        product = rng.choice(self.catalogue)
        at = self.offer_question_time(index)
        seeded = self._seeded_answer(rng, at)
        question = MessageFacts(
            message_id=uuid_from(self.seed, self.shop_id, "offer-message", index, 0),
            referer_type="OFFER",
            referer=product.offer_fnac_id,
            order_index=None,
            from_type="CLIENT",
            from_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)[0]}.",
            subject="Question sur l'offre",
            description=rng.choice(TEXTS.offer_questions),
            created=at,
            offer_title=product.name,
        )
        answer_id = uuid_from(self.seed, self.shop_id, "offer-message", index, 1)
        return self._with_answer(question, seeded, answer_id, "product_information")
