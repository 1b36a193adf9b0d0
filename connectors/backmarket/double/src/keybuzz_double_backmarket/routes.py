"""HTTP: Back Market's seller API (EU platform) under /backmarket, attachments' files
under /backmarket/files, and the double's admin endpoints under /_sandbox/backmarket
(development use, no authentication)."""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from keybuzz_sandbox.answers import faulted, json_answer
from keybuzz_sandbox.double_kit import admin
from keybuzz_sandbox.double_kit.admin import (
    LinkedFile,
    ShopAdmin,
    forward,
    one_of,
    settings_handlers,
)
from keybuzz_sandbox.double_kit.api import Refused, config_of, run_served, shop_call
from keybuzz_sandbox.double_kit.draws import rng
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import FaultDecision, reply_faults
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from . import BackMarketDoubleSettings, api
from .book import BACKMARKET, CUSTOMER, Activity, Folder
from .contract import DESCRIBED
from .double import BackMarketDouble, BackMarketFaultConfig, Shop
from .shops import (
    ATTACHMENT_IDS,
    EU_COUNTRIES,
    IDS_PER_SHOP,
    SHOPS,
    extra_specs,
    merchant_id,
)

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

BASE = "/backmarket"
FILES = f"{BASE}/files"
# Official form: BM-{Company}-{Integration};contact@domain
USER_AGENT = re.compile(r"^BM-[^-;\s]+-[^;\s]+;[^@;\s]+@[^@;\s]+\.[^@;\s]+$")
# 10 files of 3 MB and the message: what POST …/msg must be able to receive (GETs have
# no body).
MESSAGE_BODY_BYTES = 40 * 1024 * 1024
BOT_CHALLENGE = {
    "errors": [
        {
            "code": "bot-need-challenge",
            "message": "Forbidden",
            "challengePath": "/testchallengepage",
        }
    ]
}
WAF_PAGE = (
    b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    b"<body><h1>Sorry, you have been blocked</h1></body></html>"
)


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """The error body Back Market's description documents (``ErrorResponseV1``); its care
    and orders operations document none of their own (assumed)."""
    body = {"error": {"code": code, "message": message}, "requestId": str(uuid.uuid4())}
    return json_answer(body, status, headers)


def refusal(refused: Refused) -> Response[bytes]:
    return error(refused.status, refused.code, refused.message)


def too_many(seconds: int) -> Response[bytes]:
    return error(429, "too-many-requests", "Too many requests", {"Retry-After": str(seconds)})


def waf(kind: str) -> Response[bytes]:
    """The web application firewall's 403 (official examples: Cloudflare's HTML page, or
    bot management's JSON)."""
    headers = {"server": "cloudflare", "cf-ray": f"{uuid.uuid4().hex[:16]}-CDG"}
    if kind == "json":
        return json_answer(BOT_CHALLENGE, 403, headers)
    return Response(WAF_PAGE, status_code=403, media_type="text/html", headers=headers)


def backmarket_routes(sb: Sandbox) -> Served:
    specs = (*SHOPS, *extra_specs(sb.config.of(BackMarketDoubleSettings).extra_shops))
    double = BackMarketDouble(sb.config.seed, specs, sb.clock)
    faults = partial(config_of, double.faults, BackMarketFaultConfig)

    def refused_headers(request: Request[Any, Any, Any]) -> Response[bytes] | Shop:
        """What Back Market asks of every call: the User-Agent form (without it, bot
        management's 403: assumed), ``Authorization: Basic <token>`` (401, official) and
        ``Accept-Language``, a country code of the platform (400: assumed)."""
        config = faults()
        if config.waf_next > 0:
            config.waf_next -= 1
            return waf(config.waf_kind)
        if not USER_AGENT.match(request.headers.get("user-agent", "")):
            return waf("json")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        shop = double.tokens.get(token.strip()) if scheme.lower() == "basic" else None
        if shop is None:
            return error(
                401, "unauthenticated", "Guest user not allowed" + sb.echo.of(token.strip())
            )
        if (refused := sb.echo.refusal(token.strip())) is not None:
            return error(400, "bad-request", refused)
        language = request.headers.get("accept-language", "").strip().lower()
        if language not in EU_COUNTRIES:
            return error(400, "invalid-language", "Accept-Language must be a country code")
        return shop

    async def call(
        request: Request[Any, Any, Any], operation: str, run: api.Operation
    ) -> Response[bytes] | Stream:
        shop = refused_headers(request)
        if isinstance(shop, Response):
            return shop
        number = shop.spec.number
        double.note_call(number, operation)

        def injected(status: int) -> Response[bytes]:
            if status == 403:
                return waf(faults().waf_kind)
            wait = faults().retry_after_seconds
            return double.limits.waits.injected((number, operation), status, wait, too_many)

        async def answer(decision: FaultDecision) -> Response[bytes]:
            files_url = f"{str(request.base_url).rstrip('/')}{FILES}"
            parts = await shop_call(request, api.Call, double.now(), files_url=files_url)
            if refused := DESCRIBED.refused_query(operation, parts.query):
                return error(400, "invalid-parameter", refused)
            wait = double.admit(number, operation)
            if wait is not None:
                return too_many(wait)
            shown = reply_faults(faults(), double.clock.now(), str(number))
            kind, huge = decision.malformed_kind, faults().huge_bytes
            return run_served(run, double.book(shop), parts, shown, refusal, kind, huge)

        return await faulted(
            double.faults, f"backmarket.{operation}", str(number), injected, answer
        )

    @get(f"{FILES}/{{attachment_id:int}}/{{name:str}}", include_in_schema=False)
    async def attachment_file(attachment_id: FromPath[int], name: FromPath[str]) -> Response[bytes]:
        """An attachment's bytes, as Back Market's file host serves them (no token)."""
        shop = double.shops.get((attachment_id - ATTACHMENT_IDS) // IDS_PER_SHOP)
        found = shop.book.attachments.get(attachment_id) if shop and shop.loaded else None
        if found is None or found.name != name:
            return Response(b"", status_code=404)
        return Response(found.content, media_type="application/octet-stream")

    bound = MESSAGE_BODY_BYTES
    routes = DESCRIBED.routes(BASE, "backmarket", api.OPERATIONS, call, request_max_body_size=bound)
    return Served(
        api=[*routes, attachment_file],
        admin=_admin(double),
        faults=(double.faults, BackMarketFaultConfig),
        limits=double.limits,
    )


# --- admin ---------------------------------------------------------------------------------


class AdvanceRequest(admin.AdvanceRequest, kw_only=True, forbid_unknown_fields=True):
    seconds: float = 3_600.0  # seconds of Back Market's clock to play at once


class WriteRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    initiator: Annotated[str, one_of((CUSTOMER, BACKMARKET))] = CUSTOMER  # or Back Market's staff
    message: Annotated[str, msgspec.Meta(min_length=1)] = "Bonjour, avez-vous du nouveau ?"
    informative: bool = False
    attachments: list[LinkedFile] = []


class OpenRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message: str = "Bonjour, mon téléphone ne s'allume plus."
    claim: bool = True
    attachments: list[LinkedFile] = []


def _files(requested: list[LinkedFile]) -> tuple[tuple[str, bytes, str | None], ...]:
    return tuple((f.name, f.content, f.link) for f in requested)


def _admin(double: BackMarketDouble) -> list[Any]:
    folders = {"folder": ("care folder", lambda shop, n: double.book(shop).folders.get(n))}
    at_shop = ShopAdmin("/shops/{number:int}", double.shops.get, folders)

    @at_shop.listing("/shops")
    def shops(root: str) -> list[dict[str, Any]]:
        return [
            {
                "number": number,
                "merchantId": merchant_id(number),
                "name": shop.spec.name,
                "country": shop.spec.country,
                "buyerEventsPerDay": shop.spec.buyer_events_per_day,
                "token": shop.token,
                "baseUrl": f"{root}{BASE}",
            }
            for number, shop in double.shops.items()
        ]

    @get("/clock", sync_to_thread=False)
    def clock() -> Response[bytes]:
        return json_answer(double.clock_state())

    @post("/clock/advance", sync_to_thread=False)
    def advance(data: JSONBody[AdvanceRequest]) -> Response[bytes]:
        double.advanced += forward(data.seconds)
        played = {
            str(number): shop.book.play(double.now(), double.activity)
            for number, shop in double.shops.items()
            if shop.loaded
        }
        return json_answer({**double.clock_state(), "played": played})

    def set_activity(activity: Activity) -> None:
        for shop in double.shops.values():  # what happened so far, at the former rate
            if shop.loaded:
                double.book(shop)
        double.activity = activity

    @at_shop.post("/folders", OpenRequest, 201)
    def open_folder(shop: Shop, data: OpenRequest) -> dict[str, int]:
        book, now = double.book(shop), double.now()
        draw = rng(book.seed, "backmarket-admin", shop.spec.number, len(book.folders))
        order = book.new_order(draw, now - 5 * 86_400, now)
        files = _files(data.attachments)
        folder = book.open_folder(draw, order, now, data.message, files, data.claim)
        return {
            "folderId": folder.folder_id,
            "messageId": folder.messages[0].message_id,
            "orderId": order.order_id,
            "orderlineId": folder.line.line_id,
        }

    @at_shop.post("/folders/{folder:int}/messages", WriteRequest, 201)
    def write(shop: Shop, folder: Folder, data: WriteRequest) -> dict[str, int]:
        book = double.book(shop)
        files = _files(data.attachments)
        message = book.write(
            folder, data.initiator, data.message, double.now(), data.informative, files
        )
        return {"folderId": folder.folder_id, "messageId": message.message_id}

    @at_shop.post("/folders/{folder:int}/close")
    def close(shop: Shop, folder: Folder) -> dict[str, int]:
        double.book(shop).close(folder, double.now())
        return {"folderId": folder.folder_id, "state": folder.state}

    at_shop.get("/sent")(lambda shop: {"sent": double.book(shop).sent})
    at_shop.post("/rotate-token")(lambda shop: {"token": double.rotate(shop)})

    @get("/counters", sync_to_thread=False)
    def counters(shop: FromQuery[int | None] = None) -> Response[bytes]:
        """Calls counted per shop, endpoint and day of the double's clock (``shop``: only
        its own)."""
        today = int(double.now() // 86_400)
        return json_answer({"day": today, "counters": double.counters(shop)})

    activity = settings_handlers("/activity", Activity, lambda: double.activity, set_activity)
    return [clock, advance, *activity, *at_shop.handlers, counters]
