"""HTTP: ManoMano's partner API's orders under /manomano, and the double's admin endpoints
under /_sandbox/manomano (docs/MANOMANO.md, "The double")."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from keybuzz_sandbox.answers import gateway_page, json_answer
from keybuzz_sandbox.clock import parse_iso
from keybuzz_sandbox.double_kit.admin import known, settings_handlers
from keybuzz_sandbox.double_kit.replies import bounce_target_handlers, to_mx
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import NextCount, SlowSeconds
from keybuzz_sandbox.ratelimit import RateLimit, RateLimiter
from litestar import Request, Response, get, post
from litestar.params import JSONBody

from . import ManoManoDoubleSettings, mails
from .relay import Relay
from .sellers import STATUSES, Seller, iso, order_reference, seeded
from .sellers import order as made_order

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

API = "/manomano/orders/v1"
MAX_LIMIT = 100  # [assumed]
# Calls a second per API key, and its burst [assumed: ManoMano publishes no limit that we
# could read, nor do its SDKs pace or retry; docs/MANOMANO.md]. Beyond: a 429 with
# Retry-After in whole seconds.
API_LIMIT = RateLimit(rate_text="2", burst=10)


class Unreachable(msgspec.Struct, forbid_unknown_fields=True):
    alias: Annotated[str, msgspec.Meta(min_length=1)]


class MailRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of POST /_sandbox/manomano/mails: a mail of ``kind`` to an inbound address."""

    kind: mails.Kind
    to: str
    order_id: str = ""  # none: the seller's latest order
    contract: int = 1001
    index: int = 0  # which of the double's buyers
    attach: bool = False
    forged: bool = False  # no DKIM signature
    tampered: bool = False  # its body changed after signing
    unsigned: list[str] = []  # fields left out of the signature (lower case)
    added: list[tuple[str, str]] = []  # fields put above the signed mail, in order
    mx_host: str = ""
    mx_port: int = 0


class Faults(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/manomano/faults: the next calls of the partner API answered
    with a 503 page, with garbage (200 and not JSON), or after ``slowSeconds``."""

    unavailable_next: NextCount = 0
    garbage_next: NextCount = 0
    slow_seconds: SlowSeconds = 0.0


def listed(seller: Seller, query: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
    """The seller's orders the query asks for, in its window's order, or what is wrong."""
    orders = list(seller.orders.values())
    reference = query.get("order_reference", "")
    if reference:
        return [o for o in orders if o["order_reference"] == reference], None
    for field in ("status_updated_at", "created_at"):
        start, end = query.get(f"{field}_start", ""), query.get(f"{field}_end", "")
        if not (start or end):
            continue
        try:
            low, high = (parse_iso(bound) if bound else None for bound in (start, end))
        except ValueError:
            return [], f"{field}_start and {field}_end are ISO 8601 date-times"
        chosen = [
            o
            for o in orders
            if (low is None or parse_iso(o[field]) >= low)
            and (high is None or parse_iso(o[field]) < high)
        ]
        return sorted(chosen, key=lambda o: (o[field], o["order_reference"])), None
    return sorted(orders, key=lambda o: o["created_at"]), None


def manomano_routes(sb: Sandbox) -> Served:
    settings = sb.config.of(ManoManoDoubleSettings)
    sellers = seeded(sb.config.seed, sb.clock.anchor, settings.extra_shops)
    limiter = RateLimiter(sb.clock)
    retry_after = str(limiter.retry_after(API_LIMIT))
    by_key = {s.key: s for s in sellers.values()}
    relay = Relay(settings)
    faults = Faults()
    sb.parts["manomano"] = relay
    sb.lifespans.append(lambda _app: relay.serving(relay))

    def seller_of(contract: int) -> Seller:
        return known(sellers.get(contract), f"seller {contract}")

    @get(f"{API}/orders", include_in_schema=False)
    async def orders(request: Request[Any, Any, Any]) -> Response[bytes]:
        if faults.slow_seconds:
            await asyncio.sleep(faults.slow_seconds)
        if faults.unavailable_next > 0:
            faults.unavailable_next -= 1
            return gateway_page(503)
        key = request.headers.get("x-api-key", "")
        seller = by_key.get(key)
        if seller is None:
            return json_answer({"message": "Invalid API key"}, 401)
        if not limiter.allow(("manomano", key), API_LIMIT):
            wait = {"Retry-After": retry_after}
            return json_answer({"message": "Too Many Requests"}, 429, wait)
        query = dict(request.query_params)
        if query.get("seller_contract_id", "") != str(seller.contract):
            return json_answer({"message": "Forbidden for this seller contract"}, 403)
        try:
            page, limit = int(query.get("page", "1")), int(query.get("limit", "50"))
        except ValueError:
            return json_answer({"message": "page and limit are integers"}, 400)
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            return json_answer({"message": f"page >= 1, 1 <= limit <= {MAX_LIMIT}"}, 400)
        found, problem = listed(seller, query)
        if problem is not None:
            return json_answer({"message": problem}, 400)
        if faults.garbage_next > 0:
            faults.garbage_next -= 1
            return Response(b"<html>maintenance</html>", status_code=200, media_type="text/html")
        pages = max(1, math.ceil(len(found) / limit))
        content = found[(page - 1) * limit : page * limit]
        paging = {"page": page, "pages": pages, "items": len(found), "limit": limit}
        return json_answer({"content": content, "pagination": paging})

    @get("/sellers", sync_to_thread=False)
    def seller_list() -> Response[bytes]:
        return json_answer(
            [
                {"contract": s.contract, "name": s.name, "apiKey": s.key, "orders": len(s.orders)}
                for s in sellers.values()
            ]
        )

    @post("/orders/{reference:str}/status", sync_to_thread=False)
    def order_status(reference: str, data: dict[str, str]) -> Response[bytes]:
        status = str(data.get("status", ""))
        order = next((s.orders[reference] for s in sellers.values() if reference in s.orders), None)
        if order is None or status not in STATUSES:
            return json_answer({"message": f"no order {reference} or no status {status}"}, 404)
        order["status"], order["status_updated_at"] = status, iso(datetime.now(UTC))
        return json_answer(order)

    @post("/orders", sync_to_thread=False)
    def new_order(data: dict[str, int]) -> Response[bytes]:
        """A new order of a seller, created now (for freshness)."""
        seller = seller_of(int(data.get("contract", 1001)))
        now = datetime.now(UTC)
        reference = order_reference(seller.contract, len(seller.orders) + 1)
        seller.orders[reference] = made_order(seller.contract, reference, 2, now, now)
        return json_answer(seller.orders[reference])

    def set_faults(config: Faults) -> None:
        nonlocal faults
        faults = config

    @post("/mails")  # a body off MailRequest: Litestar's 400
    async def send_mail(data: JSONBody[MailRequest]) -> Response[bytes]:
        seller = seller_of(data.contract)
        order_id = data.order_id or list(seller.orders)[-1]
        raw, sent = mails.compose(
            data.kind,
            data.to,
            order_id,
            index=data.index,
            attach=data.attach,
            forged=data.forged,
            tampered=data.tampered,
            unsigned=tuple(data.unsigned),
            added=tuple(data.added),
        )
        mx = (data.mx_host or settings.mx_host, data.mx_port or settings.mx_port)
        try:
            await to_mx([("bounces@relay.manomano.com", raw)], data.to, mx)
        except Exception as exc:  # the MX's refusal, said to the caller
            return json_answer({"message": f"the MX refused it: {exc}"}, 502)
        return json_answer({"sent": msgspec.to_builtins(sent), "at": time.time()})

    @get("/relay", sync_to_thread=False)
    def relay_state() -> Response[bytes]:
        return json_answer(
            {
                "host": settings.reply_smtp_host,
                "port": relay.reply_smtp_port,
                "refused": list(relay.refused),
            }
        )

    @post("/unreachable", sync_to_thread=False)
    def unreachable(data: Unreachable) -> Response[bytes]:
        relay.unreachable.add(data.alias.lower())
        return json_answer({"unreachable": sorted(relay.unreachable)})

    @get("/threads/{alias:str}", sync_to_thread=False)
    def thread(alias: str) -> Response[bytes]:
        return json_answer({"replies": relay.passed_to(alias)})

    admin = [
        seller_list,
        order_status,
        new_order,
        *settings_handlers("/faults", Faults, lambda: faults, set_faults),
        send_mail,
        relay_state,
        *bounce_target_handlers("/bounce-target", relay),
        unreachable,
        thread,
    ]
    return Served(api=[orders], admin=admin, limiter=limiter)
