"""HTTP: every operator's instance of Mirakl's seller API under /mirakl/<operator>/api, and
the double's admin endpoints under /_sandbox/mirakl (development use, no authentication)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from keybuzz_sandbox.answers import faulted, json_answer
from keybuzz_sandbox.double_kit import admin
from keybuzz_sandbox.double_kit.admin import (
    AdminRefusal,
    AdvanceRequest,
    ShopAdmin,
    Unknown,
    forward,
    known,
    one_of,
)
from keybuzz_sandbox.double_kit.api import Refused, config_of, run_served, shop_call, web_page
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import FaultDecision, reply_faults
from litestar import Request, Response
from litestar.response import Stream

from . import MiraklDoubleSettings, api
from .book import CUSTOMER, OPERATOR, SHOP, NewFile, ShopBook, Thread
from .contract import DESCRIBED
from .double import MiraklDouble, MiraklFaultConfig
from .operators import OPERATORS

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

BASE = "/mirakl/{operator:str}"
# Faults of a base URL that is not the API (a proxy's page, a login elsewhere): they stand
# for refusals (a 404) too, not only for the API's answers.
PAGES = ("html", "redirect")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response[bytes]:
    """Mirakl's error body (its guide: ``{"message", "status"}``)."""
    return json_answer({"message": message, "status": status}, status, headers)


def too_many(seconds: int) -> Response[bytes]:
    return error(429, "Too many requests", {"Retry-After": str(seconds)})


def mirakl_routes(sb: Sandbox) -> Served:
    double = MiraklDouble(
        sb.config.seed,
        OPERATORS,
        sb.clock,
        sb.config.of(MiraklDoubleSettings).extra_shops,
        sb.config.of(MiraklDoubleSettings).frequency_factor,
    )
    faults = partial(config_of, double.faults, MiraklFaultConfig)

    def shop_of(request: Request[Any, Any, Any], code: str) -> ShopBook | Response[bytes]:
        """The shop a call is for: the key in ``Authorization`` (no scheme), and ``shop_id``
        when the key's user has several shops (else its first, Mirakl's default shop)."""
        operator = double.operators.get(code)
        if operator is None:
            return error(404, f"No Mirakl instance {code}")
        key = request.headers.get("authorization", "").strip()
        shops = operator.keys.get(key) if key else None
        if not shops:
            return error(401, "Unauthorized" + sb.echo.of(key))
        if (refused := sb.echo.refusal(key)) is not None:
            return error(400, refused)
        wanted = request.query_params.get("shop_id")
        if wanted is None:
            return operator.book(shops[0]) or error(401, "Unauthorized")
        if not wanted.isdigit():
            return error(400, "shop_id must be an integer")
        if int(wanted) not in shops:
            return error(403, f"Access denied to shop {wanted}")
        return operator.book(int(wanted)) or error(403, f"Access denied to shop {wanted}")

    async def call(
        request: Request[Any, Any, Any], operation: str, run: api.Operation
    ) -> Response[bytes] | Stream:
        code = request.path_params["operator"]
        book = shop_of(request, code)
        if isinstance(book, Response):
            return book
        key, number = (code, book.shop_id, operation), book.shop_id
        double.note_call(*key)

        def injected(status: int) -> Response[bytes]:
            wait = faults().retry_after_seconds
            return double.limits.waits.injected(key, status, wait, too_many)

        async def answer(decision: FaultDecision) -> Response[bytes]:
            parts = await shop_call(request, api.Call, double.clock.now())
            if refused := DESCRIBED.refused_query(operation, parts.query):
                return error(400, refused)
            # A first page: M11's without a page token, OR11's without an offset (each
            # refuses the other's, as their description names neither).
            query = parts.query
            first = "page_token" not in query and query.get("offset", "0") in ("", "0")
            wait = double.admit(*key, first)
            if wait is not None:
                return too_many(wait)
            kind = decision.malformed_kind

            def refusal(refused: Refused) -> Response[bytes]:
                if kind in PAGES:  # not the API at all: every answer is the page
                    return web_page(kind)
                return error(refused.status, refused.message)

            shown = reply_faults(faults(), double.clock.now(), str(number))
            huge = faults().huge_bytes
            return run_served(run, book, parts, shown, refusal, kind, huge, malformed_status=200)

        return await faulted(double.faults, f"{code}.{operation}", str(number), injected, answer)

    routes = DESCRIBED.routes(BASE, "mirakl", api.OPERATIONS, call)
    return Served(
        api=routes,
        admin=_admin(double),
        faults=(double.faults, MiraklFaultConfig),
        limits=double.limits,
        limits_reset=double.reset_limits,
    )


# --- admin ---------------------------------------------------------------------------------


class FileRequest(admin.FileRequest, kw_only=True, forbid_unknown_fields=True):
    id: str | None = None  # the attachment's id, the double's own when not given


# Who writes at the admin (the customer or the operator's staff), to whom, what.
NON_EMPTY = msgspec.Meta(min_length=1)
Sender = Annotated[str, one_of((CUSTOMER, OPERATOR))]
Recipients = Annotated[list[Annotated[str, one_of((CUSTOMER, OPERATOR, SHOP))]], NON_EMPTY]
Text = Annotated[str, NON_EMPTY]


class WriteRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    sender: Sender = CUSTOMER
    body: Text = "Bonjour, pouvez-vous me répondre rapidement s'il vous plaît ?"
    to: Recipients = msgspec.field(default_factory=lambda: [SHOP])
    attachments: list[FileRequest] = []
    # The writer's display name as M11 gives it (default: the double's own for its sender):
    # an operator's staff member as their back office names them, an e-mail at some.
    sender_name: str | None = None


class OpenRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    order_id: str | None = None  # default: the shop's latest order
    sender: Sender = CUSTOMER
    body: Text = "Bonjour, où en est ma commande ? Je n'ai reçu aucune nouvelle."
    topic: str = "Suivi de commande"
    attachments: list[FileRequest] = []


def _made(requested: list[FileRequest]) -> tuple[NewFile, ...]:
    return tuple(NewFile(f.name, f.content, f.id) for f in requested)


def _admin(double: MiraklDouble) -> list[Any]:
    threads = {"thread": ("thread", lambda book, thread_id: book.threads.get(thread_id))}
    at_shop = ShopAdmin("/operators/{code:str}/shops/{shop_id:int}", double.book, threads)

    @at_shop.listing("/operators")
    def operators(root: str) -> list[dict[str, Any]]:
        return [
            {
                "code": code,
                "name": operator.spec.name,
                "baseUrl": f"{root}/mirakl/{code}",
                "channels": [{"code": c.code, "label": c.label} for c in operator.spec.channels],
                "shops": [
                    {"shopId": number, "name": spec.name, "apiKey": operator.shop_key(number)}
                    for number, spec in operator.specs.items()
                ],
            }
            for code, operator in double.operators.items()
        ]

    @at_shop.post("/advance", AdvanceRequest)
    def advance(book: ShopBook, data: AdvanceRequest) -> dict[str, int]:
        return book.advance(forward(data.seconds), double.clock.now())

    @at_shop.post("/threads", OpenRequest, 201)
    def open_thread(book: ShopBook, data: OpenRequest) -> dict[str, str]:
        latest = max(book.orders.values(), key=lambda o: o.created, default=None)
        order = latest if data.order_id is None else book.orders.get(data.order_id)
        order = known(order, f"order {data.order_id}")
        topic, files = ("FREE_TEXT", data.topic), _made(data.attachments)
        thread = book.open_thread(order, data.body, double.clock.now(), data.sender, topic, files)
        first = thread.messages[0].message_id
        return {"threadId": thread.thread_id, "messageId": first, "orderId": order.order_id}

    @at_shop.post("/threads/{thread:str}/messages", WriteRequest, 201)
    def write(book: ShopBook, thread: Thread, data: WriteRequest) -> dict[str, Any]:
        if data.sender in data.to:
            raise AdminRefusal("to names others than the sender")
        now, to = double.clock.now(), tuple(data.to)
        files = _made(data.attachments)
        message = book.write(thread, data.sender, data.body, now, to, files, data.sender_name)
        attachment_ids = [a.attachment_id for a in message.attachments]
        return {
            "threadId": thread.thread_id,
            "messageId": message.message_id,
            "attachmentIds": attachment_ids,
        }

    @at_shop.post("/threads/{thread:str}/no-reply-needed")
    def no_reply_needed(book: ShopBook, thread: Thread) -> dict[str, str]:
        book.no_reply_needed(thread, double.clock.now())
        return {"threadId": thread.thread_id}

    @at_shop.post("/orders/{order_id:str}/{event:str}")
    def order_event(book: ShopBook, order_id: str, event: str) -> dict[str, str]:
        order = book.orders.get(order_id)
        if order is None or event not in ("incident", "refund"):
            raise Unknown(f"unknown order {order_id}, or event not incident|refund")
        now = double.clock.now()
        line = book.open_incident(order, now) if event == "incident" else book.refund(order, now)
        return {"orderId": order_id, "orderLineId": line.line_id, "orderLineState": line.state}

    at_shop.get("/sent")(lambda book: {"sent": book.sent})

    @at_shop.get("/calls")
    def calls(book: ShopBook) -> dict[str, Any]:
        at = (book.operator.code, book.shop_id)
        return {"calls": {op: n for (*shop, op), n in double.calls.items() if tuple(shop) == at}}

    @at_shop.post("/rotate-key")
    def rotate_key(book: ShopBook) -> dict[str, Any]:
        operator = double.operators[book.operator.code]
        key = operator.rotate(book.shop_id)
        return {"apiKey": key, "shopIds": operator.keys[key]}

    return at_shop.handlers
