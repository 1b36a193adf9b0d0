"""HTTP: Kaufland's Seller API v2 under /kaufland/v2 (every request signed: the double
verifies the signature as Kaufland specifies), tickets' files under /kaufland/files, and
the double's admin under /_sandbox/kaufland (development use, no authentication).

A seller has storefronts, orders of units (one unit an item) and tickets bound to order
units, across its storefronts; a ticket's messages are the buyer's, the seller's,
Kaufland's customer service's and the system's. Which problem type answers which
signing fault is inferred from their names (docs/KAUFLAND.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from keybuzz_sandbox.answers import JSON, faulted, gateway_page, json_answer
from keybuzz_sandbox.double_kit.admin import LinkedFile, ShopAdmin, known
from keybuzz_sandbox.double_kit.api import Refused, found
from keybuzz_sandbox.double_kit.draws import digest
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import (
    FaultDecision,
    FaultInjector,
    ReplyFaults,
    WebPageFaults,
    malform,
    reply_faults,
)
from litestar import Request, Response, get
from litestar.params import FromPath

from keybuzz_double_kaufland import API, FILES, KauflandDoubleSettings
from keybuzz_double_kaufland.contract import DESCRIBED

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

# Kaufland's clock tolerance is not published: Metro's API, signed alike, takes ±5 minutes
# [assumed].
CLOCK_TOLERANCE = 300
DAY = 86_400.0
SELLERS = (
    ("Maison Lefèvre (Kaufland)", ("fr", "de")),
    ("Küchenhaus Weber", ("de", "at", "cz")),
    ("Casa Rossi", ("it", "fr", "pl", "sk")),
)
CLOSED_FINAL = "customer_service_closed_final"
# A seeded ticket's question, in its storefront's language.
ASKED = {
    "fr": "Bonjour, je n'ai toujours pas reçu ma commande. Pouvez-vous vérifier ?",
    "de": "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie das prüfen?",
    "at": "Grüß Gott, meine Bestellung ist noch nicht da. Wo ist sie?",
    "cz": "Dobrý den, moje objednávka stále nedorazila. Můžete to prosím ověřit?",
    "sk": "Dobrý deň, moja objednávka ešte neprišla. Môžete to prosím overiť?",
    "pl": "Dzień dobry, moje zamówienie jeszcze nie dotarło. Czy mogą Państwo to sprawdzić?",
    "it": "Buongiorno, non ho ancora ricevuto il mio ordine. Potete verificare?",
}


class KauflandFaults(WebPageFaults, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The sandbox's faults of a shop API (slow shops named by Client Key), operations by
    Kaufland's operation ids; ``malformedKind`` ``html`` a proxy's page."""


@dataclass
class Said:
    message_id: int
    role: str  # buyer, seller, customer_service, system
    name: str
    text: str
    at: float


@dataclass
class Attached:
    filename: str
    at: float
    content: bytes
    link: str | None = None  # listed instead of the double's own


@dataclass
class Unit:
    unit_id: int
    order_id: str
    storefront: str
    created: float
    status: str = "need_to_be_sent"
    price: int = 2_499  # cents
    changed: float | None = None  # its status's last change; its creation until then

    @property
    def updated(self) -> float:
        return self.changed if self.changed is not None else self.created


@dataclass
class Ticket:
    ticket_id: str
    storefront: str
    units: list[Unit]
    created: float
    open_reason: str = "product_not_delivered"
    topic: str | None = "delivery_not_received"
    status: str = "opened"
    seller_responsible: bool = True
    said: list[Said] = field(default_factory=list)
    files: list[Attached] = field(default_factory=list)

    @property
    def updated(self) -> float:
        return max([self.created, *(s.at for s in self.said), *(f.at for f in self.files)])


@dataclass
class Seller:
    name: str
    client_key: str
    secret: str
    storefronts: tuple[str, ...]
    tickets: dict[str, Ticket] = field(default_factory=dict)
    units: dict[int, Unit] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # tickets the seller closed, each time


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(secret: str, method: str, uri: str, body: bytes, stamp: str) -> str:
    """Kaufland's ``signRequest`` [official]: hex HMAC-SHA256 of the four parts, newline-joined."""
    signed = b"\n".join((method.encode(), uri.encode(), body, stamp.encode()))
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def problem(status: int, kind: str, message: str) -> Response[bytes]:
    """Kaufland's ``ErrorResponse`` [official]."""
    return json_answer({"type": kind, "message": message, "errors": []}, status)


# --- the answers' shapes ------------------------------------------------------------------


# The buyer's address; what Kaufland's description allows null (company, phone…) left so.
WHERE = {"first_name": "Camille", "last_name": "Martin", "street": "Rue de la Paix"}
WHERE |= {"house_number": "1", "postcode": "75002", "city": "Paris", "country": "FR"}
# A unit's fields of its order in an order's details (its own there are the others).
THE_ORDERS = ("buyer", "billing_address", "shipping_address", "fulfillment_type")


def address() -> dict[str, Any]:
    return DESCRIBED.filled("Address", WHERE)


def buyer_json(unit: Unit) -> dict[str, Any]:
    return {"id_buyer": 7_000_000 + unit.unit_id % 1000, "email": None}


def unit_json(unit: Unit, *, in_order: bool = False) -> dict[str, Any]:
    """An ``OrderUnit`` [official: every field required, most nullable; those nothing reads
    null or empty, from the description]; in an order's details, without its order's."""
    product = {"id_product": 100 + unit.unit_id % 100, "storefront": unit.storefront}
    product |= {"title": "Cafetière à piston 1 L", "manufacturer": "Bodum", "is_valid": True}
    given = {
        "id_order_unit": unit.unit_id,
        "id_order": unit.order_id,
        "ts_created_iso": iso(unit.created),
        "ts_updated_iso": iso(unit.updated),
        "status": unit.status,
        "price": unit.price,
        "id_offer": f"OFFER-{unit.unit_id % 1000}",
        "revenue_gross": unit.price,
        "revenue_net": unit.price * 5 // 6,
        "unit_condition": "new",
        "storefront": unit.storefront,
        "currency": "PLN" if unit.storefront == "pl" else "EUR",
        "delivery_time_min": 2,
        "delivery_time_max": 5,
        "shipping_rate": 490,
        "product": DESCRIBED.filled("Product", product),
        "vat": 20.0,
        "buyer": buyer_json(unit),
        "billing_address": address(),
        "shipping_address": address(),
        "fulfillment_type": "fulfilled_by_merchant",
    }
    whole = DESCRIBED.filled("OrderUnit", given)
    if in_order:
        return {k: v for k, v in whole.items() if k not in THE_ORDERS} | {"tickets": None}
    return whole


def ticket_json(ticket: Ticket, files_url: str, embedded: bool) -> dict[str, Any]:
    listed: dict[str, Any] = {
        "id_ticket": ticket.ticket_id,
        "ids_order_units": [u.unit_id for u in ticket.units],
        "id_buyer": 7_000_000 + int(ticket.ticket_id) % 1000,
        "ts_created_iso": iso(ticket.created),
        "ts_updated_iso": iso(ticket.updated),
        "status": ticket.status,
        "open_reason": ticket.open_reason,
        "topic": ticket.topic,
        "is_seller_responsible": ticket.seller_responsible,
        "fulfillment_type": "fulfilled_by_merchant",
    }
    if not embedded:
        return listed
    messages = [
        {
            "id_ticket_message": s.message_id,
            "id_ticket": ticket.ticket_id,
            "author": {"role": s.role, "name": s.name},
            "text": s.text,
            "ts_created_iso": iso(s.at),
        }
        for s in ticket.said
    ]
    files = [
        {
            "filename": f.filename,
            "ts_created_iso": iso(f.at),
            "uri": f.link or f"{files_url}/{ticket.ticket_id}/{n}/{f.filename}",
        }
        for n, f in enumerate(ticket.files)
    ]
    units = [unit_json(u) for u in ticket.units]
    first = units[0]
    return listed | {
        "storefront": ticket.storefront,
        "messages": messages,
        "files": files,
        "order_units": units,
        "buyer": first["buyer"],
        "product": first["product"],
    }


def order_json(units: list[Unit], details: bool) -> dict[str, Any]:
    first = units[0]
    order = {
        "id_order": first.order_id,
        "ts_created_iso": iso(first.created),
        "is_marketplace_deemed_supplier": False,
        "storefront": first.storefront,
        "fulfillment_type": "fulfilled_by_merchant",
    }
    if details:
        who = {
            "buyer": buyer_json(first),
            "billing_address": address(),
            "shipping_address": address(),
        }
        return order | who | {"order_units": [unit_json(u, in_order=True) for u in units]}
    return order | {"order_units_count": len(units), "ts_units_updated_iso": iso(first.created)}


# --- the double ---------------------------------------------------------------------------


class KauflandDouble:
    def __init__(self, seed: str, extra: int) -> None:
        self.numbers = itertools.count(1)
        named = [*SELLERS, *((f"Petite boutique {n:04d}", ("fr",)) for n in range(1, extra + 1))]
        self.sellers = {s.client_key: s for s in (self.seller(seed, n, f) for n, f in named)}
        self.faults = FaultInjector(seed, KauflandFaults())
        for seller in self.sellers.values():
            self.order(seller, seller.storefronts[0], time.time() - 3 * DAY)
        for seller in list(self.sellers.values())[: len(SELLERS)]:  # a ticket a storefront
            for storefront in seller.storefronts:
                self.ticket(
                    seller, storefront, ASKED.get(storefront, ASKED["de"]), time.time() - 3_600
                )

    @staticmethod
    def seller(seed: str, name: str, storefronts: tuple[str, ...]) -> Seller:
        key = digest(seed, "kaufland-key", name, size=16).hex()
        secret = digest(seed, "kaufland-secret", name, size=32).hex()
        return Seller(name, key, secret, storefronts)

    def order(self, seller: Seller, storefront: str, at: float, units: int = 1) -> list[Unit]:
        n = next(self.numbers)
        order_id = f"K{n:03d}" + "".join(
            "ABCDEFGHJKLMNPQRSTUVWXYZ"[(n * 7 + i) % 24] for i in range(3)
        )
        made = [Unit(300_000_000_000 + n * 10 + i, order_id, storefront, at) for i in range(units)]
        seller.units |= {u.unit_id: u for u in made}
        return made

    def ticket(self, seller: Seller, storefront: str, text: str, now: float) -> Ticket:
        units = self.order(seller, storefront, now - 2 * DAY)
        ticket = Ticket(f"001{4_000_000 + next(self.numbers):08d}", storefront, units, now)
        seller.tickets[ticket.ticket_id] = ticket
        self.say(ticket, "buyer", "Camille M.", text, now)
        return ticket

    def say(self, ticket: Ticket, role: str, name: str, text: str, at: float) -> Said:
        """A message on ``ticket``, numbered after every message the double holds (one
        counter: a later message a larger ``id_ticket_message`` [assumed], none shared)."""
        said = Said(90_000_000 + next(self.numbers), role, name, text, at)
        ticket.said.append(said)
        if role in ("buyer", "seller"):  # a buyer's message awaits the seller; theirs answers it
            ticket.seller_responsible = role == "buyer"
        return said


# --- the operations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    seller: Seller
    path: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    files_url: str
    shown: ReplyFaults
    double: KauflandDouble


def _offset(call: Call, most: int) -> tuple[int, int]:
    limit = int(call.query.get("limit", [str(min(30, most))])[-1])
    return limit, int(call.query.get("offset", ["0"])[-1])


def _since(call: Call, name: str) -> float:
    raw = call.query.get(name, [None])[-1]
    return 0.0 if raw is None else datetime.fromisoformat(raw).timestamp()


def _ticket(call: Call) -> Ticket:
    ticket = call.seller.tickets.get(call.path["id_ticket"])
    return found(ticket, "Ticket not found", "/problems/not-found")


def _paged(call: Call, items: list[Any], most: int, shown: Any) -> dict[str, Any]:
    """A page of ``items`` by ``limit`` and ``offset`` [official], or a hostile one."""
    limit, offset = _offset(call, most)
    hostile = call.shown.paged(items[:limit], offset > 0)
    page = items[offset : offset + limit] if hostile is None else hostile
    total = len(items) if hostile is None else offset + 2 * limit + 1
    return {
        "data": [shown(i) for i in page],
        "pagination": {"offset": offset, "limit": limit, "total": total},
    }


def get_storefronts(call: Call) -> tuple[int, Any]:
    return 200, {"data": list(call.seller.storefronts)}


def get_tickets(call: Call) -> tuple[int, Any]:
    """Newest change first (``sort`` ts_updated_iso:desc [official]), from ``ts_updated_from_iso``."""
    since = _since(call, "ts_updated_from_iso")
    changed = [t for t in call.seller.tickets.values() if t.updated >= since]
    changed.sort(key=lambda t: (t.updated, t.ticket_id), reverse=True)
    return 200, _paged(call, changed, 30, lambda t: ticket_json(t, call.files_url, False))


def get_ticket(call: Call) -> tuple[int, Any]:
    return 200, {"data": ticket_json(_ticket(call), call.files_url, True)}


def create_message(call: Call) -> tuple[int, Any]:
    ticket = _ticket(call)
    if problems := DESCRIBED.body_problems("CreateTicketMessage", call.body):
        raise Refused(400, "; ".join(problems), "/problems/validation-error")
    if ticket.status == CLOSED_FINAL:
        raise Refused(400, "The ticket is finally closed", "/problems/tickets/finally-closed")
    text = call.body["text"]
    shown = call.shown.show(text), call.shown.date(time.time())
    call.double.say(ticket, "seller", call.seller.name, *shown)
    files = [f["filename"] for f in call.body.get("ticket_message_files", [])]
    call.seller.sent.append({"ticketId": ticket.ticket_id, "text": text, "files": files})
    return 201, None


def close_ticket(call: Call) -> tuple[int, Any]:
    ticket = _ticket(call)
    if ticket.status == CLOSED_FINAL:
        raise Refused(400, "The ticket is finally closed", "/problems/tickets/finally-closed")
    ticket.status = "both_closed" if ticket.status == "buyer_closed" else "seller_closed"
    call.seller.closed.append(ticket.ticket_id)
    return 204, None


def _orders(seller: Seller) -> dict[str, list[Unit]]:
    grouped: dict[str, list[Unit]] = {}
    for unit in seller.units.values():
        grouped.setdefault(unit.order_id, []).append(unit)
    return grouped


def _in_storefront(call: Call) -> Callable[[Unit], bool]:
    """``storefront`` [official: one a call, optional]; left out, every storefront [assumed]."""
    asked = call.query.get("storefront", [None])[-1]
    return lambda unit: asked is None or unit.storefront == asked


def get_orders(call: Call) -> tuple[int, Any]:
    """Newest first [assumed], from ``ts_created_from_iso`` (what our connector asks)."""
    since, in_storefront = _since(call, "ts_created_from_iso"), _in_storefront(call)
    listed = [
        u
        for u in _orders(call.seller).values()
        if max(x.updated for x in u) >= since and in_storefront(u[0])
    ]
    listed.sort(key=lambda u: (u[0].created, u[0].order_id), reverse=True)
    return 200, _paged(call, listed, 100, lambda u: order_json(u, False))


def get_order_units(call: Call) -> tuple[int, Any]:
    """By their last change, from ``ts_updated_from_iso`` (``sort`` ts_updated:desc
    [official], what our connector asks; the description's other filters and sorts are
    accepted and ignored)."""
    since, in_storefront = _since(call, "ts_updated_from_iso"), _in_storefront(call)
    units = [u for u in call.seller.units.values() if u.updated >= since and in_storefront(u)]
    units.sort(key=lambda u: (u.updated, u.unit_id), reverse=True)
    return 200, _paged(call, units, 100, unit_json)


def get_order(call: Call) -> tuple[int, Any]:
    units = _orders(call.seller).get(call.path["id_order"])
    return 200, {"data": order_json(found(units, "Order not found", "/problems/not-found"), True)}


# Kaufland's operation id → implementation (its method and path: the description's).
OPERATIONS = {
    "GetAllStorefronts": get_storefronts,
    "GetTickets": get_tickets,
    "GetTicket": get_ticket,
    "CreateTicketMessage": create_message,
    "CloseTicket": close_ticket,
    "GetOrders": get_orders,
    "GetOrder": get_order,
    "GetOrderUnits": get_order_units,
}


def routes(sb: Sandbox) -> Served:
    double = KauflandDouble(sb.config.seed, sb.config.of(KauflandDoubleSettings).extra_shops)

    def signed_by(request: Request[Any, Any, Any], body: bytes) -> Seller | Response[bytes]:
        """The seller whose keys signed the request, or Kaufland's 401 [official statuses;
        which problem answers which fault: inferred from their names]."""
        headers = request.headers
        key, stamp = headers.get("shop-client-key", ""), headers.get("shop-timestamp", "")
        sent = headers.get("shop-signature", "")
        if not (key and stamp and sent) or not stamp.isdigit():
            return problem(401, "/problems/missing-or-invalid-request-header", "Missing header")
        if abs(time.time() - int(stamp)) > CLOCK_TOLERANCE:
            return problem(401, "/problems/missing-or-invalid-request-header", "Stale timestamp")
        seller = double.sellers.get(key)
        if seller is None:
            return problem(401, "/problems/invalid-credentials", "Invalid client key")
        expected = signature(seller.secret, request.method, str(request.url), body, stamp)
        if not hmac.compare_digest(expected, sent):
            said = "The signature does not match" + sb.echo.of(sent)
            return problem(401, "/problems/corrupted-signature", said)
        if (refused := sb.echo.refusal(seller.secret)) is not None:
            return problem(400, "/problems/bad-request", refused)
        return seller

    async def call(request: Request[Any, Any, Any], operation: str, run: Any) -> Any:
        body = await request.body()
        seller = signed_by(request, body)
        if isinstance(seller, Response):
            return seller
        query = {name: request.query_params.getall(name) for name in request.query_params}
        if refused := DESCRIBED.refused_query(operation, query):
            return problem(400, "/problems/validation-error", refused)

        async def answer(decision: FaultDecision) -> Response[bytes]:
            root = str(request.base_url).rstrip("/")
            try:
                sent = msgspec.json.decode(body) if body else None
            except msgspec.DecodeError:
                return problem(400, "/problems/bad-request", "The body is not JSON")
            config = double.faults.config
            shown = reply_faults(config, time.time(), seller.client_key)
            path = dict(request.path_params)
            parts = Call(seller, path, query, sent, f"{root}{FILES}", shown, double)
            try:
                status, payload = run(parts)
            except Refused as refused:
                return problem(refused.status, refused.code, refused.message)
            if decision.malformed_kind == "html":
                return Response(
                    b"<!DOCTYPE html><html><body>Wartung</body></html>", media_type="text/html"
                )
            content = b"" if payload is None else msgspec.json.encode(payload)
            if decision.malformed_kind:  # an answer garbled, even one Kaufland gives empty
                content = malform(
                    content or b'{"data": null}', decision.malformed_kind, config.huge_bytes
                )
                status = 200 if status == 204 else status
            return Response(content, status_code=status, media_type=JSON)

        op = f"kaufland.{operation}"
        return await faulted(double.faults, op, seller.client_key, gateway_page, answer)

    @get(f"{FILES}/{{ticket_id:str}}/{{n:int}}/{{name:str}}", include_in_schema=False)
    async def ticket_file(
        ticket_id: FromPath[str], n: FromPath[int], name: FromPath[str]
    ) -> Response[bytes]:
        """A ticket's file, as Kaufland's site serves it (no signature [assumed])."""
        for seller in double.sellers.values():
            ticket = seller.tickets.get(ticket_id)
            if (
                ticket is not None
                and 0 <= n < len(ticket.files)
                and ticket.files[n].filename == name
            ):
                return Response(ticket.files[n].content, media_type="application/octet-stream")
        return Response(b"", status_code=404)

    bound = 64 * 1024 * 1024
    routes = DESCRIBED.routes(API, "kaufland", OPERATIONS, call, request_max_body_size=bound)
    faults = (double.faults, KauflandFaults)
    return Served(api=[*routes, ticket_file], admin=_admin(double), faults=faults)


# --- admin ---------------------------------------------------------------------------------


class WriteRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: str = "Bonjour, où en est ma commande ?"
    staff: bool = False  # Kaufland's customer service writes
    storefront: str | None = None  # a new ticket's; the seller's first by default
    attachments: list[LinkedFile] = []


class UnitRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: str = "sent"  # an OrderUnitStatus [official]


class CloseRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    by: str = "buyer"  # buyer, seller or customer_service (finally)


def _attach(ticket: Ticket, files: list[LinkedFile], at: float) -> None:
    ticket.files += [Attached(f.name, at, f.content, f.link) for f in files]


def _admin(double: KauflandDouble) -> list[Any]:
    tickets = {"ticket": ("ticket", lambda seller, ticket_id: seller.tickets.get(ticket_id))}
    at_shop = ShopAdmin("/shops/{key:str}", double.sellers.get, tickets)

    @at_shop.listing("/shops")
    def shops(root: str) -> list[dict[str, Any]]:
        return [
            {
                "name": s.name,
                "clientKey": s.client_key,
                "secretKey": s.secret,
                "storefronts": list(s.storefronts),
            }
            for s in double.sellers.values()
        ]

    @at_shop.post("/threads", WriteRequest, 201)
    def open_ticket(seller: Seller, data: WriteRequest) -> dict[str, str]:
        storefront = data.storefront or seller.storefronts[0]
        ticket = double.ticket(seller, storefront, data.body, time.time())
        _attach(ticket, data.attachments, ticket.created)
        return {
            "threadId": ticket.ticket_id,
            "messageId": str(ticket.said[0].message_id),
            "orderId": ticket.units[0].order_id,
        }

    @at_shop.post("/threads/{ticket:str}/messages", WriteRequest, 201)
    def write(seller: Seller, ticket: Ticket, data: WriteRequest) -> dict[str, str]:
        role, name = (
            ("customer_service", "Kaufland Kundenservice")
            if data.staff
            else ("buyer", "Camille M.")
        )
        said = double.say(ticket, role, name, data.body, time.time())
        _attach(ticket, data.attachments, said.at)
        return {"messageId": str(said.message_id)}

    @at_shop.post("/threads/{ticket:str}/close", CloseRequest)
    def close(seller: Seller, ticket: Ticket, data: CloseRequest) -> dict[str, str]:
        closing = {
            "buyer": "buyer_closed",
            "seller": "seller_closed",
            "customer_service": CLOSED_FINAL,
        }
        ticket.status = closing.get(data.by, "buyer_closed")
        double.say(ticket, "system", "Kaufland", f"Ticket closed ({ticket.status})", time.time())
        return {"threadId": ticket.ticket_id, "status": ticket.status}

    @at_shop.post("/units/{unit_id:int}", UnitRequest)
    def change_unit(seller: Seller, unit_id: int, data: UnitRequest) -> dict[str, str]:
        """An order unit's status changes (sent, received…): its order is listed anew."""
        unit = known(seller.units.get(unit_id), f"order unit {unit_id}")
        unit.status, unit.changed = data.status, time.time()
        return {"orderId": unit.order_id, "status": unit.status}

    @at_shop.get("/sent")
    def sent(seller: Seller) -> dict[str, Any]:
        return {"sent": seller.sent, "closed": seller.closed}

    @at_shop.post("/rotate-secret")
    def rotate(seller: Seller) -> dict[str, str]:
        seller.secret = hashlib.sha256(
            f"{seller.secret}|{next(double.numbers)}".encode()
        ).hexdigest()
        return {"secretKey": seller.secret}

    return at_shop.handlers
