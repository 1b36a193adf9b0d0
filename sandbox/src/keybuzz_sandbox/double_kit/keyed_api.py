"""A shop API's whole double declared as data (``KeyedApi``: docs/SANDBOX.md, the double
kit): its routes, its admin and its conformance driver."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.response import Stream

from keybuzz_sandbox.answers import gateway_page, held_back, json_answer
from keybuzz_sandbox.conformance import RecipientKind, ShopDriver
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.admin import ShopAdmin
from keybuzz_sandbox.double_kit.api import PROXY_PAGE, Answer, page_of, served
from keybuzz_sandbox.double_kit.draws import uuid_of
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver, suite_pace
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import FaultInjector, ReplyFaults, WebPageFaults, reply_faults

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

Routed = Response[bytes] | Stream
PAGE = 10  # messages a page


class Written(msgspec.Struct, rename="camel"):
    """One message of a shop as the double keeps it (its API shows it as ``KeyedApi.shown``)."""

    id: str
    thread_id: str
    order_id: str
    sender: str  # BUYER or SELLER
    body: str
    created_at: str  # ISO 8601


def messages_page(messages: list[Written], more: bool) -> dict[str, Any]:
    return {"messages": msgspec.to_builtins(messages), "more": more}


@dataclass
class KeyedShop:
    number: str
    key: str
    messages: list[Written] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeyedApi:
    """``name``: the double's (its admin at ``/_sandbox/<name>``, its operations named
    ``<name>.<operation>``); ``marketplace``/``display``: the connector's value and its name;
    ``api``: the API's path; ``shops``: the seeded shops' numbers; ``order_id``: an order's
    id by number. Its shapes are one (docs/SANDBOX.md), the connector's fields ``shop_id``
    and ``api_key``."""

    name: str
    marketplace: str
    display: str
    api: str
    shops: tuple[str, ...]
    order_id: Callable[[int], str] = str

    def routes(self, sb: Sandbox) -> Served:
        """The API's and the admin's routes on ``sb``."""
        return KeyedRoutes(self, sb).handlers()

    def driver(self, marketplace: str, double: Double) -> ShopDriver:
        return KeyedDriver(
            marketplace=marketplace,
            double=double,
            admin=f"/_sandbox/{self.name}",
            tokenless=f"a {self.display} API key has no token",
            prefix=self.marketplace,
        )

    def double(self, module: str, at: str) -> Double:
        """Its entry point's ``Double``, this declaration being ``module``'s ``at``."""
        url = f"{self.marketplace}_API_URL"
        return Double(
            self.name,
            lambda base: {url: f"{base}{self.api}/"},
            routes_at=f"{module}:{at}.routes",
            drivers_at=f"{module}:{at}.driver",
            marketplaces=(self.marketplace,),
        )


class KeyedRoutes:
    """A ``KeyedApi``'s routes on one sandbox: its shops, faults and message ids."""

    def __init__(self, api: KeyedApi, sb: Sandbox) -> None:
        self.api = api
        self.seed = sb.config.seed  # a shop's key drawn from it, as random as a real one
        self.shops = {n: KeyedShop(n, uuid_of(self.seed, "key", n)) for n in api.shops}
        self.faults = FaultInjector(sb.config.seed, WebPageFaults())
        self.ids = itertools.count(1)
        self.echo = sb.echo

    def written(
        self,
        shop: KeyedShop,
        thread: str,
        order: str,
        sender: str,
        body: str,
        at: float | None = None,
    ) -> Written:
        when = datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()
        message = Written(f"{shop.number}-{next(self.ids)}", thread, order, sender, body, when)
        shop.messages.append(message)
        return message

    async def answer(
        self,
        request: Request[Any, Any, Any],
        number: str,
        operation: str,
        make: Callable[[KeyedShop, ReplyFaults], tuple[Any, int]],
    ) -> Routed:
        """An operation's answer for shop ``number``, its faults played."""
        op = f"{self.api.name}.{operation}"
        decision = await self.faults.delayed(op)
        if decision.error_status:
            return gateway_page(decision.error_status)
        shop, key = self.shops.get(number), request.headers.get("X-Api-Key")
        if shop is None or key != shop.key:
            return json_answer({"error": f"API key refused{self.echo.of(key or '')}"}, 401)
        if (refusal := self.echo.refusal(shop.key)) is not None:
            return json_answer({"error": refusal}, 400)
        shown = reply_faults(self.faults.config, time.time(), number)

        async def made() -> Response[bytes]:
            payload, status = make(shop, shown)
            huge = self.faults.config.huge_bytes
            return served(Answer(status, payload), decision.malformed_kind, huge, page=PROXY_PAGE)

        return await held_back(self.faults.slow_answer(op, number), made)

    def page(self, shop: KeyedShop, shown: ReplyFaults, since: str, page: int) -> Any:
        low = datetime.fromisoformat(since) if since else datetime.min.replace(tzinfo=UTC)
        found = [m for m in shop.messages if datetime.fromisoformat(m.created_at) >= low]
        return messages_page(*page_of(found, page, PAGE, shown.paged))

    def post(self, shop: KeyedShop, shown: ReplyFaults, thread: str, body: str) -> tuple[Any, int]:
        first = next((m for m in shop.messages if m.thread_id == thread), None)
        if first is None:
            return {"error": f"no thread {thread}"}, 404
        shop.sent.append(body)
        at = shown.date(time.time())
        message = self.written(shop, thread, first.order_id, "SELLER", shown.show(body), at)
        return {"id": message.id}, 201

    def handlers(self) -> Served:
        at = f"{self.api.api}/shops/{{number:str}}"

        @get(f"{at}/", include_in_schema=False)
        async def shop_of(request: Request[Any, Any, Any], number: str) -> Routed:
            return await self.answer(
                request, number, "shop", lambda s, _: ({"shopId": s.number}, 200)
            )

        @get(f"{at}/messages", include_in_schema=False)
        async def listed(
            request: Request[Any, Any, Any], number: str, since: str = "", page: int = 1
        ) -> Routed:
            return await self.answer(
                request, number, "list_messages", lambda s, f: (self.page(s, f, since, page), 200)
            )

        @get(f"{at}/threads/{{thread:str}}", include_in_schema=False)
        async def thread(request: Request[Any, Any, Any], number: str, thread: str) -> Routed:
            def make(shop: KeyedShop, _: ReplyFaults) -> tuple[Any, int]:
                return messages_page(
                    [m for m in shop.messages if m.thread_id == thread], False
                ), 200

            return await self.answer(request, number, "list_messages", make)

        @post(f"{at}/threads/{{thread:str}}", include_in_schema=False)
        async def write(request: Request[Any, Any, Any], number: str, thread: str) -> Routed:
            body = (await request.json())["body"]
            return await self.answer(
                request, number, "post_message", lambda s, f: self.post(s, f, thread, body)
            )

        api_routes = [shop_of, listed, thread, write]
        faults = (self.faults, WebPageFaults)
        return Served(api=api_routes, admin=self.admin_handlers(), faults=faults)

    def admin_handlers(self) -> list[Any]:
        shops = self.shops

        at_shop = ShopAdmin("/shops/{number:str}", shops.get)

        @at_shop.listing("/shops")
        def listed_shops(root: str) -> list[dict[str, str]]:
            display = self.api.display
            return [
                {"name": f"{display} {s.number}", "number": s.number, "key": s.key}
                for s in shops.values()
            ]

        @at_shop.post("/threads", dict[str, str], 201)
        def opened(shop: KeyedShop, data: dict[str, str]) -> dict[str, str]:
            n = next(self.ids)
            said = self.written(shop, f"th{n}", self.api.order_id(n), "BUYER", data["body"])
            return {"messageId": said.id, "orderId": said.order_id, "threadId": said.thread_id}

        @at_shop.get("/sent")
        def sent(shop: KeyedShop) -> dict[str, Any]:
            return {"sent": [{"body": b} for b in shop.sent]}

        @at_shop.post("/rotate-key")
        def rotate(shop: KeyedShop) -> dict[str, str]:
            shop.key = uuid_of(self.seed, "key", shop.number, next(self.ids))
            return {"key": shop.key}

        return at_shop.handlers


@dataclass(frozen=True, kw_only=True)
class KeyedDriver(ListedShopsDriver):
    """A ``KeyedApi``'s conformance driver: its double's settings for the connector and its
    ``<prefix>_*`` at the suite's pace, its shops as its admin lists them, what a shop sent
    as its log says."""

    reading: tuple[str, ...] = ("list_messages",)
    replying: str = "post_message"
    revoking: str = "rotate-key"
    answer_cap: int = 8 * 2**20  # the kit's default cap on an answer
    recipients: tuple[RecipientKind, ...] = ("BUYER",)
    account = "number"
    listed_as = {"shop_id": "number", "api_key": "key"}
    prefix: str

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {**self.double.service_env(sandbox_url), **suite_pace(self.prefix)}
