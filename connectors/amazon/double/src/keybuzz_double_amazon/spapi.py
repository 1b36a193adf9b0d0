"""The SP-API pipeline of every operation: authenticate, rate limit, faults, the model's
checks, the operation, Amazon's headers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from keybuzz_sandbox.double_kit import routes as double_routes
from keybuzz_sandbox.double_kit.api import Answer, Refused, found
from keybuzz_sandbox.double_kit.swagger import Operation, parse_query
from keybuzz_sandbox.faults import FaultDecision, malform
from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler

from .double import AmazonDouble
from .errors import SpApiError, quota_exceeded, server_fault, unauthorized
from .lwa import AccessClaims, authenticate
from .models import APIS, RATE_LIMITS
from .order_book import OrderBook, OrderState


class CallContext(msgspec.Struct, kw_only=True):
    sandbox: AmazonDouble
    principal: AccessClaims
    query: dict[str, Any]
    path_params: dict[str, str]
    body: Any
    now: float

    def book(self) -> OrderBook:
        """The calling seller's orders; grantless tokens have no seller."""
        seller = self.principal.seller_id
        if seller is None or seller not in self.sandbox.sellers:
            raise unauthorized()
        return self.sandbox.sellers[seller]

    def order(self, param: str) -> tuple[OrderBook, OrderState]:
        """The calling seller's order the path's ``param`` names, else SP-API's 404."""
        book, order_id = self.book(), self.path_params[param]
        return book, found(book.find(order_id, self.now), f"Order {order_id} was not found.")


Implementation = Callable[[CallContext], Awaitable[Answer]]


async def _reply(
    sb: AmazonDouble, op: Operation, impl: Implementation, request: Request[Any, Any, Any]
) -> tuple[Answer, FaultDecision]:
    principal = authenticate(sb.signer, request.headers.get("x-amz-access-token"), sb.clock.now())
    limit = RATE_LIMITS[op.key]
    owner = (principal.client_id, principal.seller_id or f"grantless:{principal.client_id}", op.key)
    if limit is not None and not sb.limiter.allow(owner, limit):
        raise quota_exceeded()
    decision = await sb.faults.delayed(op.key)
    if decision.error_status:
        raise server_fault(decision.error_status)
    try:
        ctx = CallContext(
            sandbox=sb,
            principal=principal,
            query=parse_query(op, request.scope.get("query_string", b"").decode("latin-1")),
            path_params={k: str(v) for k, v in request.path_params.items()},
            body=APIS[op.api].body(op, await request.body()),
            now=sb.clock.now(),
        )
        return await impl(ctx), decision
    except Refused as refused:  # the kit's: off the model (a query, a body, a page token), or 404
        code = "NotFound" if refused.status == 404 else "InvalidInput"
        raise SpApiError(refused.status, code, refused.message) from None


# x-amzn-RateLimit-Limit is best-effort on Amazon: these operations answer without it.
NO_RATE_LIMIT_HEADER = frozenset({"ordersV0.getOrderItems"})


def operation_route(sb: AmazonDouble, op: Operation, impl: Implementation) -> HTTPRouteHandler:
    async def handler(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        decision = FaultDecision()
        try:
            reply, decision = await _reply(sb, op, impl, request)
            status, body = reply.status, msgspec.json.encode(reply.payload)
        except SpApiError as exc:
            status, body = exc.status, exc.body()
            if exc.error_type:
                headers["x-amzn-ErrorType"] = exc.error_type
        if decision.malformed_kind and status < 400:
            body = malform(body, decision.malformed_kind, sb.faults.config.huge_bytes)
        limit = RATE_LIMITS[op.key]
        if limit is not None and status != 429 and op.key not in NO_RATE_LIMIT_HEADER:
            headers["x-amzn-RateLimit-Limit"] = str(limit.rate)  # as Amazon writes it: "0.0167"
        return Response(content=body, status_code=status, media_type=op.produces, headers=headers)

    # status_code: the Response carries the real one (Litestar's DELETE default, 204, has no body).
    return double_routes.operation_route(op.path, op.method, op.key, handler, status_code=200)
