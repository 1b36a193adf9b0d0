"""HTTP: Fnac's API at POST /fnac/api.php/{service}, and the double's admin endpoints
under /_sandbox/fnac (development use, no authentication)."""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from keybuzz_sandbox.answers import XML, gateway_page, xml_malformed
from keybuzz_sandbox.double_kit.admin import AdminRefusal, ShopAdmin, known
from keybuzz_sandbox.double_kit.draws import file_bytes
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.echo import EchoSecret
from keybuzz_sandbox.faults import XML_KINDS, SlowAnswer, reply_faults, trickled
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Stream
from lxml import etree

from . import FnacDoubleSettings, errors
from .double import RATE_LIMIT, FnacDouble, FnacFaultConfig
from .schema import NS, SERVICES, XmlRefused, local_name, validated
from .services import answered
from .shops import default_shops
from .wire import API_VERSION, add, add_error, child_text, fnac_time, refusal, response, serialize

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

    from .book import ShopBook
    from .generator import OrderFacts

FILES_OPERATION = "fnac.files"  # the file downloads, for the fault settings
# The fields a "mistyped" answer gives a word: each message's date.
MISTYPED = ("message/created_at",)


def _xml(
    root: etree._Element, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(serialize(root), status_code=status, media_type=XML, headers=headers)


def _too_many(double: FnacDouble, service: str) -> Response[bytes]:
    wait = double.limiter.retry_after(RATE_LIMIT)
    body = refusal(service, errors.TOO_MANY_REQUESTS, f"Too many requests: retry after {wait} s")
    return _xml(body, 429, {"Retry-After": str(wait)})


def malform(answer: etree._Element, kind: str) -> bytes:
    """Fnac's own hostile bodies (beyond an XML API's: ``faults.XML_KINDS``)."""
    if kind == "empty":  # as Fnac answered once (captured/empty_response.xml)
        return b""
    if kind == "schema":  # well-formed, off the schema: unknown status, unknown element
        answer.set("status", "UNKNOWN")
        answer.insert(0, etree.Element(f"{{{NS}}}surprise_element"))
        return serialize(answer)
    return utf7_entities(answer)


# What the "utf7-entities" answer puts in the token and the messages' texts: a client that
# stores or uses it has expanded an entity.
INJECTED_TEXT = "INJECTED-BY-A-UTF7-ENTITY"
_INJECTED_INTO = ("token", "message_subject", "message_description")


def utf7_entities(answer: etree._Element) -> bytes:
    """The answer declared UTF-7, its DTD written in UTF-7 (no "<!" among the bytes) with an
    internal entity that stands for the token and the messages' texts: a client must refuse
    it unexpanded, whatever check it makes on the raw bytes."""
    name = local_name(answer)
    for element in answer.iter(*(f"{{{NS}}}{n}" for n in _INJECTED_INTO)):
        element.text = "ENTITY-HERE"
    dtd = f'<!DOCTYPE {name} [<!ENTITY injected "{INJECTED_TEXT}">]>'
    utf7_dtd = "".join(f"+{_utf7_char(c)}-" if c in '<!>[]"' else c for c in dtd)
    # ASCII (others as character references), "+" escaped as UTF-7 wants it.
    body = etree.tostring(answer, encoding="us-ascii").replace(b"+", b"+-")
    body = body.replace(b"ENTITY-HERE", b"&injected;")
    return b'<?xml version="1.0" encoding="UTF-7"?>' + utf7_dtd.encode() + body


def _utf7_char(char: str) -> str:
    return base64.b64encode(char.encode("utf-16-be")).decode().rstrip("=")


async def handle(
    double: FnacDouble, service: str, body: bytes, echo: EchoSecret | None = None
) -> Response[bytes] | Stream:
    if service not in SERVICES:
        return Response(b"Not Found", status_code=404, media_type="text/plain")
    operation = f"fnac.{service}"
    decision = await double.faults.delayed(operation)
    if decision.error_status == 429:
        return _too_many(double, service)
    if decision.error_status:
        return gateway_page(decision.error_status)  # a load balancer's or PHP's page
    slow = SlowAnswer()  # a request that is not a shop's is answered at once
    try:
        root = validated(body)
    except XmlRefused as exc:
        answer = refusal(service, errors.INVALID_REQUEST, str(exc))
    else:
        shop_id = root.get("shop_id") or child_text(root, "shop_id")
        slow = double.faults.slow_answer(operation, shop_id)
        await asyncio.sleep(slow.stall)
        if local_name(root) != service:
            answer = refusal(
                service, errors.INVALID_REQUEST, f"{local_name(root)} posted to {service}"
            )
        elif not double.limiter.allow(("fnac", shop_id.upper()), RATE_LIMIT):
            return _too_many(double, service)
        elif codes := double.faults.refusal(operation):
            answer = response(service, "ERROR")
            for code in codes:
                add_error(answer, code, "refused on demand (the double's fault settings)")
        else:
            answer = _answer(double, service, root, echo or EchoSecret())
            await asyncio.sleep(slow.hold)
    if kind := decision.malformed_kind:
        if kind in XML_KINDS:
            return xml_malformed(serialize(answer), kind, double.faults.config.huge_bytes, MISTYPED)
        return Response(malform(answer, kind), status_code=200, media_type=XML)
    if slow.trickle:
        return Stream(trickled(serialize(answer), slow.trickle), media_type=XML)
    return _xml(answer)


def _answer(
    double: FnacDouble, service: str, root: etree._Element, echo: EchoSecret
) -> etree._Element:
    if service == "auth":
        granted = double.authenticate(
            child_text(root, "partner_id"), child_text(root, "shop_id"), child_text(root, "key")
        )
        if granted is None:
            sent = child_text(root, "key")
            return refusal(service, errors.AUTH_REFUSED, "Authentication failed" + echo.of(sent))
        token, grant = granted
        answer = response(service)
        add(answer, "token", token)
        add(answer, "validity", fnac_time(grant.expires_at))
        add(answer, "version", API_VERSION)
        return answer
    book = double.book_for(
        root.get("partner_id", ""), root.get("shop_id", ""), root.get("token", "")
    )
    if book is None:
        return refusal(
            service, errors.TOKEN_INVALID, "Invalid or expired token: authenticate again"
        )
    if (refused := echo.refusal(book.credentials.key)) is not None:
        return refusal(service, errors.INVALID_REQUEST, refused)
    book.reply_faults = reply_faults(
        double.faults.config, double.clock.now(), book.shop_id, own_clock=book.virtual
    )
    return answered(service, book, root, double.clock.now())


# --- admin --------------------------------------------------------------------------------


MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_SIZE = 64 * 1024 * 1024  # the double makes the bytes up in memory


class AttachmentRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A file the message links, its bytes made up by the double (``size`` of them)."""

    name: Annotated[str, msgspec.Meta(pattern="^[^/]+$")] = "photo.jpg"  # a file's name
    content_type: Annotated[str, msgspec.Meta(pattern="/")] = "image/jpeg"  # a MIME type
    size: Annotated[int, msgspec.Meta(ge=0, le=MAX_ATTACHMENT_SIZE)] = 1_000
    # Listed as the file's url instead of the double's own: a link to anywhere, as a
    # hostile or broken answer could hold (the double serves nothing there).
    url: str | None = None


class BuyerMessageRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    order_id: str | None = None  # default: the shop's latest order
    # With no order_id: the latest order nobody has written about yet, if any (a new thread).
    untouched: bool = False
    # CALLCENTER: Fnac's customer service; SELLER: the seller in Fnac's back office.
    from_type: Literal["CLIENT", "CALLCENTER", "SELLER"] = "CLIENT"
    subject: str = "Question"
    description: Annotated[str, msgspec.Meta(min_length=1)] = "Bonjour, où en est ma commande ?"
    attachments: Annotated[list[AttachmentRequest], msgspec.Meta(max_length=MAX_ATTACHMENTS)] = []


class IncidentRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    order_id: str
    # state.xsd incident_open_state: 1 not received, 2 unlike, 3 defective
    type_code: Literal["1", "2", "3"] = "1"


class IncidentClosing(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    order_id: str


def fnac_routes(sb: Sandbox) -> Served:
    """The double's routes; its shops cost nothing until asked for."""
    own = sb.config.of(FnacDoubleSettings)
    double = FnacDouble(
        sb.config.seed,
        default_shops(own.bench_orders, own.extra_shops),
        sb.clock,
        sb.state,
        sb.config.public_url,
    )

    @post("/fnac/api.php/{service:str}", include_in_schema=False, status_code=200)
    async def api(
        service: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes] | Stream:
        return await handle(double, service, await request.body(), sb.echo)

    @get("/fnac/files/{shop_id:str}/{file_id:str}", include_in_schema=False)
    async def download(shop_id: FromPath[str], file_id: FromPath[str]) -> Response[bytes]:
        """A message's linked file (``message_file``'s url); faults name it ``files``."""
        decision = await double.faults.delayed(FILES_OPERATION)
        if decision.error_status:
            return gateway_page(decision.error_status)  # a load balancer's or PHP's page
        book = double.books.get(shop_id.upper())
        file = None if book is None else book.file(file_id, double.clock.now())
        if file is None:
            return Response(b"Not Found", status_code=404, media_type="text/plain")
        return Response(file_bytes(file.file_id, file.name, file.size), media_type=file.filetype)

    def book_of(shop_id: str) -> ShopBook:
        return known(double.books.get(shop_id.upper()), f"shop {shop_id}")

    def advance(book: ShopBook, seconds: float) -> dict[str, object]:
        summary = book.advance(seconds, double.clock.now())
        sb.save()
        return summary

    at_shop = ShopAdmin("/shops/{shop_id:str}", lambda shop_id: double.books.get(shop_id.upper()))

    @at_shop.post("/messages", BuyerMessageRequest, 201)
    def buyer_writes(book: ShopBook, data: BuyerMessageRequest) -> dict[str, Any]:
        now = double.clock.now()
        order = (
            book.latest_order(now, untouched=data.untouched)
            if data.order_id is None
            else book.find_order(data.order_id, book.virtual(now))
        )
        order = known(order, f"order {data.order_id}")
        files = tuple((a.name, a.content_type, a.size, a.url) for a in data.attachments)
        record = book.write(order, data.from_type, data.subject, data.description, now, files)
        return {
            "messageId": record.facts.message_id,
            "orderId": order.order_id,
            "fileUrls": [f.url or f"{book.files_url}{f.file_id}" for f in record.facts.files],
        }

    def order_of(book: ShopBook, order_id: str) -> tuple[OrderFacts, float]:
        """The shop's order ``order_id`` and the time now."""
        now = double.clock.now()
        return known(book.find_order(order_id, book.virtual(now)), f"order {order_id}"), now

    @at_shop.post("/incidents", IncidentRequest, 201)
    def open_incident(book: ShopBook, data: IncidentRequest) -> dict[str, str]:
        order, now = order_of(book, data.order_id)
        opened = book.open_incident(order, data.type_code, now)
        if opened is None:
            raise AdminRefusal(f"order {data.order_id} already has an incident", 409)
        incident, message = opened
        return {"incidentId": incident, "messageId": message, "orderId": order.order_id}

    @at_shop.post("/incidents/close", IncidentClosing)
    def close_incident(book: ShopBook, data: IncidentClosing) -> dict[str, str]:
        order, now = order_of(book, data.order_id)
        incident = book.close_incident(order, now)
        if incident is None:
            raise AdminRefusal(f"order {data.order_id} has no open incident", 409)
        return {"incidentId": incident, "orderId": order.order_id}

    def rotate_key(book: ShopBook) -> dict[str, str]:
        creds = double.rotate_key(book.shop_id)
        sb.save()
        return {"shopId": creds.shop_id, "key": creds.key}

    admin = [*double.admin(book_of, advance, ("rotate-key", rotate_key)), *at_shop.handlers]
    faults = (double.faults, FnacFaultConfig)
    return Served(
        api=[api, download], admin=admin, faults=faults, limiter=double.limiter, kept=double.record
    )
