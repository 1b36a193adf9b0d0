"""The throwaway marketplace's double: its API under ``/tryout/api`` (an ``X-Api-Key`` per
shop), its admin under ``/_sandbox/tryout``, its faults the sandbox's own (``faults``), and
its conformance driver; registered as an installed double's entry point would be."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from keybuzz_sandbox.answers import gateway_page, held_back, json_answer
from keybuzz_sandbox.conformance import (
    JSON_FAULTS,
    AdminDriver,
    DoubleShop,
    ShopDriver,
    answered,
    double_faults,
)
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.fault_admin import fault_handlers
from keybuzz_sandbox.faults import (
    FaultInjector,
    WebPageFaults,
    malform,
    reply_faults,
)
from litestar import Request, Response, Router, get, post
from litestar.response import Stream

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

API, ADMIN, PAGE = "/tryout/api", "/_sandbox/tryout", 10
SHOPS = ("7001", "7002", "7003")


@dataclass
class Shop:
    number: str
    key: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


def routes(sb: Sandbox) -> list[Any]:
    shops = {n: Shop(n, f"key-{n}-{sb.config.seed}") for n in SHOPS}
    faults = FaultInjector(sb.config.seed, WebPageFaults())
    ids = itertools.count(1)

    def said(shop: Shop, thread: str, order: str, sender: str, body: str,
             at: float | None = None) -> dict[str, Any]:  # fmt: skip
        at = datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()
        message = {"id": f"{shop.number}-{next(ids)}", "threadId": thread, "orderId": order,
                   "sender": sender, "body": body, "createdAt": at}  # fmt: skip
        shop.messages.append(message)
        return message

    async def answer(request: Request[Any, Any, Any], number: str, operation: str,
                     make: Any) -> Response[bytes] | Stream:  # fmt: skip
        decision = await faults.delayed(f"tryout.{operation}")
        if decision.error_status:
            return gateway_page(decision.error_status)
        shop = shops.get(number)
        if shop is None or request.headers.get("x-api-key") != shop.key:
            # The key sent echoed, as some marketplaces do: the kit keeps it out of errors.
            sent_key = request.headers.get("x-api-key")
            return json_answer({"error": f"API key {sent_key} refused"}, 401)

        async def made() -> Response[bytes]:
            payload, status = make(shop)
            if decision.malformed_kind == "html":
                return gateway_page(200)
            body, kind = msgspec.json.encode(payload), decision.malformed_kind
            huge = faults.config.huge_bytes
            return Response(malform(body, kind, huge) if kind else body, status_code=status,
                            media_type="application/json")  # fmt: skip

        return await held_back(faults.slow_answer(f"tryout.{operation}", number), made)

    @get(f"{API}/shops/{{number:str}}/", include_in_schema=False)
    async def shop_of(request: Request[Any, Any, Any], number: str) -> Response[bytes] | Stream:
        return await answer(request, number, "shop", lambda s: ({"shopId": s.number}, 200))

    @get(f"{API}/shops/{{number:str}}/messages", include_in_schema=False)
    async def listed(request: Request[Any, Any, Any], number: str, since: str = "",
                     page: int = 1) -> Response[bytes] | Stream:  # fmt: skip
        def make(shop: Shop) -> tuple[Any, int]:
            low = datetime.fromisoformat(since) if since else datetime.min.replace(tzinfo=UTC)
            found = [m for m in shop.messages if datetime.fromisoformat(m["createdAt"]) >= low]
            start = (page - 1) * PAGE
            return {"messages": found[start : start + PAGE], "more": len(found) > start + PAGE}, 200

        return await answer(request, number, "list_messages", make)

    @get(f"{API}/shops/{{number:str}}/threads/{{thread:str}}", include_in_schema=False)
    async def thread(request: Request[Any, Any, Any], number: str,
                     thread: str) -> Response[bytes] | Stream:  # fmt: skip
        def make(shop: Shop) -> tuple[Any, int]:
            return {"messages": [m for m in shop.messages if m["threadId"] == thread]}, 200

        return await answer(request, number, "list_messages", make)

    @post(f"{API}/shops/{{number:str}}/threads/{{thread:str}}", include_in_schema=False)
    async def write(request: Request[Any, Any, Any], number: str,
                    thread: str) -> Response[bytes] | Stream:  # fmt: skip
        body = (await request.json())["body"]
        shown = reply_faults(faults.config, time.time())

        def make(shop: Shop) -> tuple[Any, int]:
            first = next((m for m in shop.messages if m["threadId"] == thread), None)
            if first is None:
                return {"error": f"no thread {thread}"}, 404
            shop.sent.append(body)
            at = shown.date(time.time())
            message = said(shop, thread, first["orderId"], "SELLER", shown.show(body), at)
            return {"id": message["id"]}, 201

        return await answer(request, number, "post_message", make)

    @get("/shops", sync_to_thread=False)
    def listed_shops() -> Response[bytes]:
        return json_answer([{"name": f"Tryout {s.number}", "number": s.number, "key": s.key}
                            for s in shops.values()])  # fmt: skip

    @post("/shops/{number:str}/threads", sync_to_thread=False, status_code=201)
    def opened(number: str, data: dict[str, str]) -> Response[bytes]:
        shop, n = shops[number], next(ids)
        message = said(shop, f"th{n}", f"T{n:06d}", "BUYER", data["body"])
        return json_answer({"messageId": message["id"], "orderId": message["orderId"],
                            "threadId": message["threadId"]}, 201)  # fmt: skip

    @get("/shops/{number:str}/sent", sync_to_thread=False)
    def sent(number: str) -> Response[bytes]:
        return json_answer({"sent": [{"body": b} for b in shops[number].sent]})

    @post("/shops/{number:str}/rotate-key", sync_to_thread=False)
    def rotate(number: str) -> Response[bytes]:
        shops[number].key = f"key-{number}-{next(ids)}"
        return json_answer({"key": shops[number].key})

    admin = [listed_shops, opened, sent, rotate, *fault_handlers(faults, WebPageFaults)]
    return [shop_of, listed, thread, write, Router(ADMIN, route_handlers=admin)]


@dataclass(frozen=True)
class TryoutDriver(AdminDriver):
    recipients: tuple[Any, ...] = ("BUYER",)

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {"TRYOUT_API_URL": f"{sandbox_url}{API}/", "TRYOUT_POLL_INTERVAL_SECONDS": "2",
                "TRYOUT_TIMEOUT_SECONDS": "2", "TRYOUT_CALL_DEADLINE_SECONDS": "2",
                "TRYOUT_FIRST_POLL_DAYS": "1"}  # fmt: skip

    def sandbox_settings(self) -> dict[str, str]:
        return {}

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = answered(await http.get(self.shops_listed_at))
        return [DoubleShop(s["name"], s["number"], {"shop_id": s["number"], "api_key": s["key"]})
                for s in listed]  # fmt: skip

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = answered(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return ["BUYER" for s in sent if s["body"] == text]


def drivers() -> dict[str, ShopDriver]:
    return {"TRYOUT": TryoutDriver(
        marketplace="TRYOUT", api_family="tryout", customer_care="Tryout's customer care",
        admin=ADMIN, reading=("list_messages",), replying="post_message",
        bodies=double_faults({"TRUNCATED": "invalid_json", "WRONG_CONTENT_TYPE": "html",
                              **JSON_FAULTS}, answer_cap=8 * 2**20),  # the kit's default cap
        revoking="rotate-key", tokenless="a Tryout API key has no token",
    )}  # fmt: skip


DOUBLE = Double(
    "tryout",
    lambda url: {"TRYOUT_API_URL": f"{url}{API}/"},
    routes_at=f"{__name__}:routes",
    drivers_at=f"{__name__}:drivers",
)
