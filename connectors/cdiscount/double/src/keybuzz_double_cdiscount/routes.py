"""HTTP: Octopia's token endpoint and seller API v2 under /octopia, and the double's admin
endpoints under /_sandbox/cdiscount (development use, no authentication)."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

import msgspec
from keybuzz_sandbox.answers import faulted, gateway_page, json_answer
from keybuzz_sandbox.double_kit import admin
from keybuzz_sandbox.double_kit.admin import ShopAdmin, known, one_of
from keybuzz_sandbox.double_kit.api import (
    PROXY_PAGE,
    Answer,
    config_of,
    run_served,
    served,
    shop_call,
)
from keybuzz_sandbox.double_kit.draws import numeric_id
from keybuzz_sandbox.double_kit.oauth import basic_credentials
from keybuzz_sandbox.double_kit.routes import operation_route
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import FaultDecision, reply_faults
from litestar import Request, Response, post
from litestar.response import Stream

from . import CdiscountDoubleSettings, api
from .api import Refused
from .book import DiscussionRecord, ShopBook
from .double import (
    API_LIMIT,
    TOKEN_LIFETIME,
    TOKEN_LIMIT,
    TOKEN_OPERATION,
    CdiscountDouble,
    CdiscountFaultConfig,
)
from .generator import CUSTOMER, GRADUATIONS, GRC, TYPOLOGIES, AttachmentFacts
from .shops import default_shops

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

TOKEN_PATH = "/octopia/auth/realms/maas/protocol/openid-connect/token"
API = "/octopia/seller/v2"


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[bytes]:
    """The double's error body (RFC 7807: Octopia's own is not public)."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def refusal(refused: Refused) -> Response[bytes]:
    return problem(refused.status, refused.message)


def _oidc_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return json_answer({"error": error, "error_description": description}, status, headers)


def cdiscount_routes(sb: Sandbox) -> Served:
    """The double's routes; its shops cost nothing until asked for."""
    own = sb.config.of(CdiscountDoubleSettings)
    double = CdiscountDouble(
        sb.config.seed, default_shops(own.bench_orders, own.extra_shops), sb.clock
    )
    faults = partial(config_of, double.faults, CdiscountFaultConfig)

    def fault(status: int) -> Response[bytes]:
        if status != 429:
            return gateway_page(status)
        seconds = faults().retry_after_seconds
        headers = {"Retry-After": str(seconds)} if seconds else None
        return problem(429, "Too many requests", headers)

    @post(TOKEN_PATH, include_in_schema=False, status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        decision = await double.faults.delayed(TOKEN_OPERATION)
        if decision.error_status:
            return fault(decision.error_status)
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _oidc_error(400, "invalid_request", "Form-encoded body expected")
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id and (basic := basic_credentials(request.headers.get("authorization"))):
            client_id, secret = basic  # client_secret_basic, as Keycloak allows
        if form.get("grant_type") != "client_credentials":
            return _oidc_error(400, "unsupported_grant_type", "Unsupported grant_type")
        if not double.limiter.allow(("cdiscount-token", client_id), TOKEN_LIMIT):
            wait = {"Retry-After": str(double.limiter.retry_after(TOKEN_LIMIT))}
            return _oidc_error(429, "too_many_requests", "Too many token requests", wait)
        granted = double.client_grant(client_id, secret)
        if granted is None:
            return _oidc_error(
                401,
                "invalid_client",
                "Invalid client or Invalid client credentials" + sb.echo.of(secret),
            )
        body = {
            "access_token": granted[0],
            "expires_in": int(TOKEN_LIFETIME),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }
        return served(
            Answer(200, body), decision.malformed_kind, faults().huge_bytes, page=PROXY_PAGE
        )

    def authorized(request: Request[Any, Any, Any]) -> ShopBook | Response[bytes]:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return problem(
                401, "Bearer token required", {"WWW-Authenticate": 'Bearer realm="maas"'}
            )
        granted = double.tokens.valid(value.strip())
        if granted is None:
            challenge = 'Bearer realm="maas", error="invalid_token", error_description="Token is invalid or expired"'
            return problem(401, "Token is invalid or expired", {"WWW-Authenticate": challenge})
        book = double.books[granted.shop]
        if (refused := sb.echo.refusal(book.credentials.client_secret)) is not None:
            return problem(400, refused)
        seller_id = request.headers.get("sellerid", "").strip()
        if not seller_id:
            return problem(403, "SellerId header required")
        if seller_id != granted.shop:
            challenge = 'Bearer realm="maas", error="insufficient_scope"'
            return problem(
                403,
                f"this token gives no access to seller {seller_id}",
                {"WWW-Authenticate": challenge},
            )
        return book

    async def answer_call(
        request: Request[Any, Any, Any], run: api.Operation, decision: FaultDecision
    ) -> Response[bytes]:
        book = authorized(request)
        if isinstance(book, Response):
            return book
        if not double.limiter.allow(("cdiscount", book.seller_id), API_LIMIT):
            wait = {"Retry-After": str(double.limiter.retry_after(API_LIMIT))}
            return problem(429, "Too many requests", wait)
        real = double.clock.now()
        observed = faults().observed_listing_only
        parts = await shop_call(
            request, api.Call, book.virtual(real), real=real, observed_only=observed
        )
        shown = reply_faults(double.faults.config, real, book.seller_id, own_clock=book.virtual)
        kind = decision.malformed_kind
        return run_served(
            run, book, parts, shown, refusal, kind, faults().huge_bytes, page=PROXY_PAGE
        )

    def endpoint(method: str, path: str, operation: str, run: api.Operation) -> Any:
        async def handler(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
            seller_id = request.headers.get("sellerid", "").strip()  # a slow shop's calls
            answer = partial(answer_call, request, run)
            return await faulted(double.faults, f"cdiscount.{operation}", seller_id, fault, answer)

        return operation_route(f"{API}{path}", method, f"cdiscount.{operation}", handler)

    api_routes = [endpoint(*spec) for spec in api.OPERATIONS]
    return Served(
        api=[token, *api_routes],
        admin=_admin(double),
        faults=(double.faults, CdiscountFaultConfig),
        limiter=double.limiter,
    )


# --- admin ---------------------------------------------------------------------------------


Graduation = Annotated[str, one_of(GRADUATIONS)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class OpenRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    order_id: str | None = None  # default: the shop's latest order
    sub_typology_code: Annotated[str, one_of(TYPOLOGIES["Order"])] = "orderNotShipped"
    body: NonEmpty = "Bonjour, où en est ma commande ? Je n'ai reçu aucune nouvelle."
    graduation: Graduation = "Discussion"


class FileRequest(admin.FileRequest, kw_only=True, rename="camel", forbid_unknown_fields=True):
    file_format: str = "jpg"
    id: str | None = None  # the attachment's id as listed, the double's own when not given


class WriteRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    user_type: Annotated[str, one_of((CUSTOMER, GRC))] = CUSTOMER
    body: NonEmpty = "Bonjour, pouvez-vous me répondre rapidement s'il vous plaît ?"
    attachments: Annotated[list[FileRequest], msgspec.Meta(max_length=5)] = []


class GraduationRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    graduation: Graduation = "Claim"


def _admin(double: CdiscountDouble) -> list[Any]:
    def book_of(seller_id: str) -> ShopBook:
        return known(double.books.get(seller_id), f"seller {seller_id}")

    def discussion_of(book: ShopBook, discussion_id: str) -> DiscussionRecord | None:
        return book.discussion(discussion_id, book.virtual(double.clock.now()))

    discussions = {"discussion": ("discussion", discussion_of)}
    at_shop = ShopAdmin("/shops/{seller_id:str}", double.books.get, discussions)

    @at_shop.post("/discussions", OpenRequest, 201)
    def open_discussion(book: ShopBook, data: OpenRequest) -> dict[str, str]:
        now = book.virtual(double.clock.now())
        order = (
            book.latest_order(now) if data.order_id is None else book.find_order(data.order_id, now)
        )
        order = known(order, f"order {data.order_id}")
        book.materialize(now)
        record = book.open_discussion(
            order, data.sub_typology_code, data.body, data.graduation, now
        )
        first = record.messages[0].facts.message_id
        return {"discussionId": record.discussion_id, "messageId": first, "orderId": order.order_id}

    @at_shop.post("/discussions/{discussion:str}/messages", WriteRequest, 201)
    def write(book: ShopBook, discussion: DiscussionRecord, data: WriteRequest) -> dict[str, str]:
        real = double.clock.now()
        now, discussion_id = book.virtual(real), discussion.discussion_id
        files = tuple(
            AttachmentFacts(
                attachment_id=f.id or numeric_id(book.gen.seed, discussion_id, "file", n, real),
                name=f.name,
                file_format=f.file_format,
                size=max(0, f.size),
            )
            for n, f in enumerate(data.attachments)
        )
        message = book.add_message(
            discussion, data.user_type, data.body, now, ((book.seller_id, "Seller"),), files
        )
        if not discussion.is_open(now):  # a buyer writing reopens the discussion
            discussion.openings.append((now, True))
        return {"messageId": message.facts.message_id, "discussionId": discussion_id}

    @at_shop.post("/discussions/{discussion:str}/graduation", GraduationRequest)
    def graduate(
        book: ShopBook, discussion: DiscussionRecord, data: GraduationRequest
    ) -> dict[str, str]:
        now = book.virtual(double.clock.now())
        discussion.graduations.append((now, data.graduation))
        return {"discussionId": discussion.discussion_id, "graduation": data.graduation}

    return [
        *double.admin(
            book_of,
            lambda book, seconds: book.advance(seconds, double.clock.now()),
            ("rotate-secret", lambda book: double.rotate_secret(book.seller_id)),
        ),
        *at_shop.handlers,
    ]
