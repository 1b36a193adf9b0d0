"""The eBay double: its sign-in and consent page, its OAuth token endpoint, the Identity,
Message and Fulfillment APIs for the sellers it seeds, each request checked against eBay's
descriptions (contract.py), the sandbox's faults, and its conformance driver."""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import msgspec
from keybuzz_sandbox.answers import gateway_page, held_back, json_answer
from keybuzz_sandbox.conformance import (
    JSON_FAULTS,
    AdminDriver,
    ConsentApp,
    DoubleShop,
    ShopDriver,
    answered,
    double_faults,
)
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.fault_admin import fault_handlers
from keybuzz_sandbox.faults import (
    JSON_KINDS,
    FaultInjector,
    SlowFaultConfig,
    hostile_page,
    malform,
    reply_faults,
)
from litestar import Request, Response, Router, get, post, put
from litestar.response import Redirect, Stream

from .contract import body_problems, query_problems

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

ROOT, ADMIN = "/ebay", "/_sandbox/ebay"
CLIENT_ID, RU_NAME = "KeyBuzz-KeyBuzz-SBX-0a1b2c3d", "KeyBuzz-KeyBuzz-KeyBuz-abcdef"
ACCESS_SECONDS, REFRESH_SECONDS = 7200, 47_304_000  # eBay's user tokens' lives [official]
# eBay's call limits once an app passed its check [official, developer.ebay.com's FAQ]: an
# application-based app up to 1,500,000 calls a day, a user-based one 20,000 per eBay user a
# day, days starting at midnight Pacific time; which applies is eBay's choice: the double
# counts both. REST quotas are per API resource [official: the Analytics API's
# getRateLimits]: the Fulfillment API's calls are counted apart from the others' (the
# Message and Identity APIs'), its quota taken as the application's too [assumed]. Its
# refusal's body is assumed (eBay's error 2001, "Too many requests").
APP_CALLS_PER_DAY, USER_CALLS_PER_DAY = 1_500_000, 20_000
# The token endpoint's refresh-token grants a day for an application [official,
# developer.ebay.com, "OAuth rate limits"]; past them eBay answers 429 [observed: a bug
# report on davidtsadler/ebay-sdk-php, a refresh answered 429 with an "errors" body], the
# body's words assumed.
GRANTS_PER_DAY = 50_000
PACIFIC = ZoneInfo("America/Los_Angeles")
SELLERS = ("1", "2", "3")
EXTRA_NUMBERS = 1_000  # the extra sellers' numbers: 1001, 1002, …


class EbayDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_EBAY_EXTRA_SHOPS``: small sellers beyond the seeded ones, each with its
    orders and no conversation."""

    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0


def _t(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EbayFaults(SlowFaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The sandbox's faults of a shop API, and ``malformedKind`` "html" (a web page)."""

    malformed_kinds: ClassVar[tuple[str, ...]] = (*JSON_KINDS, "html")


@dataclass
class Seller:
    number: str
    seed: str
    name: str = ""
    generation: int = 0
    token_requests: int = 0
    conversations: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return f"eBayUser{self.number}x"

    @property
    def username(self) -> str:
        return f"vendeur_{self.number}"

    @property
    def refresh_token(self) -> str:
        digest = hashlib.sha256(f"{self.seed}|{self.number}|{self.generation}".encode()).hexdigest()
        return f"v^1.1#i^1#r^1#{digest[:40]}"


def _orders(seller: Seller, now: float) -> list[dict[str, Any]]:
    return [_order(seller, n, now - 86_400 * (1 + 7 * n)) for n in range(6)]


def _order(seller: Seller, n: int, when: float) -> dict[str, Any]:
    """The seller's ``n``-th order, created and last modified ``when``."""
    states = ("NOT_STARTED", "IN_PROGRESS", "FULFILLED")
    at = _t(when)
    return {"orderId": f"{10 + int(seller.number)}-{10000 + n:05d}-{20000 + n:05d}",
                     "creationDate": at, "lastModifiedDate": at,
                     "orderFulfillmentStatus": states[n % 3], "orderPaymentStatus": "PAID",
                     "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
                     "buyer": {"username": f"acheteur_{n}"}, "sellerId": seller.username,
                     "lineItems": [{"lineItemId": f"{n}001", "title": f"Objet {n}", "quantity": 2,
                                    "lineItemCost": {"value": "20.00", "currency": "EUR"},
                                    "lineItemFulfillmentStatus": states[n % 3],
                                    "legacyItemId": f"1100{n}", "sku": f"SKU-{n}",
                                    "listingMarketplaceId": ("EBAY_FR", "EBAY_DE")[n % 2]}]}  # fmt: skip


def routes(sb: Sandbox) -> list[Any]:
    seed = sb.config.seed
    secret = f"SBX-{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
    sellers = {n: Seller(n, seed) for n in SELLERS}
    for n in range(1, sb.config.of(EbayDoubleSettings).extra_shops + 1):
        number = str(EXTRA_NUMBERS + n)
        sellers[number] = Seller(number, seed, f"eBay Boutique {n:05d}")
    for seller in sellers.values():
        seller.orders = _orders(seller, time.time())
    accept: dict[str, str] = {}  # RuName → the accept URL registered with it
    codes: dict[str, tuple[str, float]] = {}  # code → seller, expiry
    access: dict[str, tuple[Seller, float]] = {}  # access token → seller, expiry
    faults = FaultInjector(seed, EbayFaults())
    # The admin may lower them, and make a "day" a window of so many seconds (0: eBay's day),
    # so that a run of minutes meets the limit a day's rate of calls would.
    limits = {"app": APP_CALLS_PER_DAY, "fulfillment": APP_CALLS_PER_DAY,
              "user": USER_CALLS_PER_DAY, "grants": GRANTS_PER_DAY, "window": 0}  # fmt: skip
    # (day, "app", "fulfillment" or a seller) → calls answered; (day, "refused-<api>") →
    # calls answered 429 past the app's quota of that API
    calls: dict[tuple[str, str], int] = {}
    grants: dict[str, int] = {}  # day → user access tokens granted on a refresh token
    refused_grants: dict[str, int] = {}  # day → refresh-token grants refused past the limit

    def today() -> str:
        if (window := limits["window"]) > 0:
            return f"window-{int(time.time() // window)}"
        return datetime.now(PACIFIC).date().isoformat()

    def spent(seller: Seller, api: str) -> bool:
        """Counts the call; True when the app's day of ``api``'s calls (the Fulfillment
        API's, or the others') or the seller's is spent."""
        day, quota = today(), "fulfillment" if api == "fulfillment" else "app"
        app, user = calls.get((day, quota), 0), calls.get((day, seller.number), 0)
        if app >= limits[quota] or user >= limits["user"]:
            calls[(day, f"refused-{quota}")] = calls.get((day, f"refused-{quota}"), 0) + 1
            return True
        calls[(day, quota)], calls[(day, seller.number)] = app + 1, user + 1
        return False

    ids = itertools.count(1)
    # Each seller by the refresh tokens it was given: a token is its seller's while it is
    # the current one (a revocation gives a new one).
    refreshing = {s.refresh_token: s for s in sellers.values()}

    def by_refresh(token: str) -> Seller | None:
        found = refreshing.get(token)
        return found if found is not None and found.refresh_token == token else None

    def error(status: int, message: str, error_id: int = 2004) -> Response[bytes]:
        return json_answer({"errors": [{"errorId": error_id, "domain": "API_MESSAGE",
                                        "category": "REQUEST", "message": message}]}, status)  # fmt: skip

    @get(f"{ROOT}/oauth2/authorize", include_in_schema=False, sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
        """eBay's sign-in and consent, one link a seller (the double signs no one in)."""
        q = dict(request.query_params)
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("redirect_uri") not in accept
            or q.get("response_type") != "code"
        ):
            return Response(b"<h1>invalid_request</h1>", status_code=400, media_type="text/html")
        back, state = accept[q["redirect_uri"]], q.get("state", "")
        if "decline" in q:
            return Redirect(f"{back}?{urlencode({'error': 'access_denied', 'state': state})}")
        if (seller := sellers.get(q.get("user", ""))) is None:
            links = "".join(f'<li><a href="?{urlencode({**q, "user": n})}">Se connecter : vendeur_{n}</a></li>'
                            for n in sellers)  # fmt: skip
            return Response(f"<h1>eBay</h1><ul>{links}</ul>".encode(), media_type="text/html")
        code = f"v^1.1#i^1#c^{next(ids)}#{hashlib.sha256(f'{seed}{time.time()}'.encode()).hexdigest()[:20]}"
        codes[code] = (seller.number, time.time() + 299)  # 299 s [official]
        return Redirect(f"{back}?{urlencode({'state': state, 'code': code})}")

    @post(f"{ROOT}/identity/v1/oauth2/token", include_in_schema=False)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return json_answer(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                401,
            )
        form = dict(await request.form())
        echoed = sb.echo.of(str(form.get("refresh_token") or ""))
        said = {"error": "invalid_grant", "error_description": f"the grant is invalid{echoed}"}
        invalid = json_answer(said, 400)
        if form.get("grant_type") == "authorization_code":
            seller_at = codes.pop(str(form.get("code")), None)
            if (
                seller_at is None
                or seller_at[1] < time.time()
                or form.get("redirect_uri") != RU_NAME
            ):
                return invalid
            seller, extra = sellers[seller_at[0]], {"refresh_token_expires_in": REFRESH_SECONDS}
            extra["refresh_token"] = seller.refresh_token  # type: ignore[assignment]
        elif form.get("grant_type") == "refresh_token":
            found = by_refresh(str(form.get("refresh_token")))
            if found is None:
                return invalid
            day = today()
            if grants.get(day, 0) >= limits["grants"]:
                refused_grants[day] = refused_grants.get(day, 0) + 1
                return json_answer({"errors": [{
                    "errorId": 1001, "domain": "OAuth", "category": "REQUEST",
                    "message": "Too many requests",
                    "longMessage": "The application's daily limit of refresh token grants "
                                   "has been reached."}]}, 429)  # fmt: skip
            seller, extra = found, {}
            grants[day] = grants.get(day, 0) + 1
        else:
            return json_answer({"error": "unsupported_grant_type"}, 400)
        seller.token_requests += 1
        issued = (
            f"v^1.1#i^1#p^3#{next(ids)}#{hashlib.sha256(f'{seed}{next(ids)}'.encode()).hexdigest()}"
        )
        access[issued] = (seller, time.time() + ACCESS_SECONDS)
        return json_answer({"access_token": issued, "expires_in": ACCESS_SECONDS,
                            "token_type": "User Access Token", **extra})  # fmt: skip

    def bearer(request: Request[Any, Any, Any]) -> Seller | None:
        held = access.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        return held[0] if held and held[1] > time.time() else None

    async def answer(request: Request[Any, Any, Any], api: str, operation: str, make: Any,
                     body: Any = None) -> Response[bytes] | Stream:  # fmt: skip
        decision = await faults.delayed(f"ebay.{operation}")
        if decision.error_status:
            return gateway_page(decision.error_status)
        seller = bearer(request)
        if seller is None:
            return error(
                401,
                "Invalid access token. Check the value of the Authorization HTTP request header.",
                1001,
            )
        if (refused := sb.echo.refusal(seller.refresh_token)) is not None:
            return error(400, refused)
        if spent(seller, api):
            return error(
                429, "Too many requests. The request limit has been reached for the resource.", 2001
            )
        wrong = query_problems(api, operation, dict(request.query_params))
        wrong += body_problems(api, operation, body) if body is not None else []
        if wrong:
            return error(400, "; ".join(wrong))

        async def made() -> Response[bytes]:
            payload, status = make(seller)
            if payload is None:
                return Response(b"", status_code=status)
            if decision.malformed_kind == "html":
                return gateway_page(200)
            raw, kind = msgspec.json.encode(payload), decision.malformed_kind
            return Response(
                malform(raw, kind, faults.config.huge_bytes) if kind else raw,
                status_code=status,
                media_type="application/json",
            )

        return await held_back(faults.slow_answer(f"ebay.{operation}", seller.number), made)

    @get(f"{ROOT}/commerce/identity/v1/user/", include_in_schema=False)
    async def user(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        return await answer(request, "identity", "getUser", lambda s: ({
            "userId": s.user_id, "username": s.username, "accountType": "BUSINESS",
            "registrationMarketplaceId": "EBAY_FR", "status": "CONFIRMED"}, 200))  # fmt: skip

    def page(items: list[Any], q: Any, key: str, href: str, seller: str) -> dict[str, Any]:
        limit, offset = int(q.get("limit", 25)), int(q.get("offset", 0))
        hostile = hostile_page(faults.config, items[:limit], seller, offset > 0)  # paged wrong
        if hostile is not None:
            return {key: hostile, "href": href, "limit": limit, "offset": offset,
                    "total": len(items) + limit + offset,
                    "next": f"{href}?{urlencode({**q, 'offset': offset + limit})}"}  # fmt: skip
        shown = {key: items[offset : offset + limit], "href": href, "limit": limit, "offset": offset,
                 "total": len(items)}  # fmt: skip
        if offset + limit < len(items):
            shown["next"] = f"{href}?{urlencode({**q, 'offset': offset + limit})}"
        return shown

    def summary(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in ("messages", "buyer")} | {
            "latestMessage": c["messages"][-1],
            "unreadCount": sum(not m["readStatus"] for m in c["messages"]),
        }

    @get(f"{ROOT}/commerce/message/v1/conversation", include_in_schema=False)
    async def conversations(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        q = dict(request.query_params)

        def make(s: Seller) -> tuple[Any, int]:
            found = [
                c for c in s.conversations if c["conversationType"] == q.get("conversation_type")
            ]
            if "start_time" in q:
                found = [c for c in found if c["messages"][-1]["createdDate"] >= q["start_time"]]
            found.sort(key=lambda c: c["messages"][-1]["createdDate"], reverse=True)
            return page(
                [summary(c) for c in found],
                q,
                "conversations",
                str(request.url).split("?")[0],
                s.number,
            ), 200

        return await answer(request, "message", "getConversations", make)

    @get(
        f"{ROOT}/commerce/message/v1/conversation/{{conversation_id:str}}", include_in_schema=False
    )
    async def conversation(
        request: Request[Any, Any, Any], conversation_id: str
    ) -> Response[bytes] | Stream:
        q = dict(request.query_params)

        def make(s: Seller) -> tuple[Any, int]:
            c = next((c for c in s.conversations if c["conversationId"] == conversation_id), None)
            if c is None or c["conversationType"] != q.get("conversation_type"):
                return {"errors": [{"errorId": 2103, "message": "conversation not found"}]}, 404
            shown = page(c["messages"], q, "messages", str(request.url).split("?")[0], s.number)
            return {
                k: c[k] for k in ("conversationStatus", "conversationTitle", "conversationType")
            } | shown, 200

        return await answer(request, "message", "getConversation", make)

    @post(f"{ROOT}/commerce/message/v1/send_message", include_in_schema=False)
    async def send(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        body = msgspec.json.decode(await request.body())
        shown = reply_faults(faults.config, time.time())

        def make(s: Seller) -> tuple[Any, int]:
            c = next(
                (c for c in s.conversations if c["conversationId"] == body.get("conversationId")),
                None,
            )
            text = str(body.get("messageText", ""))
            if c is None or c["conversationType"] != "FROM_MEMBERS" or not 0 < len(text) <= 2000:
                return {
                    "errors": [
                        {"errorId": 2101, "message": "invalid conversationId or messageText"}
                    ]
                }, 400
            s.sent.append(text)
            said = {"messageId": f"m{next(ids)}", "createdDate": _t(shown.date(time.time())),
                    "messageBody": shown.show(text), "senderUsername": s.username,
                    "recipientUsername": c["buyer"], "subject": c["conversationTitle"], "readStatus": False}  # fmt: skip
            c["messages"].append(said)
            return {
                k.replace("Username", "UserName"): v for k, v in said.items() if k != "messageId"
            }, 201

        return await answer(request, "message", "sendMessage", make, body)

    @post(f"{ROOT}/commerce/message/v1/update_conversation", include_in_schema=False)
    async def update(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        body = msgspec.json.decode(await request.body())

        def make(s: Seller) -> tuple[Any, int]:
            for c in s.conversations:
                if c["conversationId"] == body.get("conversationId") and "read" in body:
                    for m in c["messages"]:
                        m["readStatus"] = m["readStatus"] or (
                            m["senderUsername"] != s.username and body["read"]
                        )
            return None, 204

        return await answer(request, "message", "updateConversation", make, body)

    @get(f"{ROOT}/sell/fulfillment/v1/order", include_in_schema=False)
    async def orders(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        q = dict(request.query_params)

        def make(s: Seller) -> tuple[Any, int]:
            found = list(s.orders)
            if "orderIds" in q:
                found = [o for o in found if o["orderId"] in q["orderIds"].split(",")]
            elif "filter" in q:
                name, _, window = q["filter"].partition(":")
                low, _, high = window.strip("[]").partition("..")
                key = {"creationdate": "creationDate", "lastmodifieddate": "lastModifiedDate"}.get(
                    name
                )
                if key is None:
                    return {"errors": [{"errorId": 30700, "message": "invalid filter"}]}, 400
                found = [o for o in found if low <= o[key] and (not high or o[key] <= high)]
            return page(found, q, "orders", str(request.url).split("?")[0], s.number), 200

        return await answer(request, "fulfillment", "getOrders", make)

    # --- admin -------------------------------------------------------------------------------

    @get("/shops", sync_to_thread=False)
    def listed_shops() -> Response[bytes]:
        return json_answer([{"name": s.name or f"eBay {s.username}", "number": s.number, "userId": s.user_id,
                             "username": s.username, "refreshToken": s.refresh_token,
                             "clientId": CLIENT_ID, "clientSecret": secret} for s in sellers.values()])  # fmt: skip

    @put("/apps/{ru_name:str}", sync_to_thread=False)
    def register(ru_name: str, data: dict[str, str]) -> Response[bytes]:
        """The accept URL eBay's developer portal registers with a RuName."""
        accept[ru_name] = data["acceptUrl"]
        return json_answer({"ruName": ru_name, "clientId": CLIENT_ID, "clientSecret": secret})

    @post("/shops/{number:str}/threads", sync_to_thread=False, status_code=201)
    def opened(number: str, data: dict[str, str]) -> Response[bytes]:
        s, n = sellers[number], next(ids)
        kind = "FROM_EBAY" if data.get("from") == "EBAY" else "FROM_MEMBERS"
        # The admin may name the buyer and the listing (one a seeded order bought).
        buyer = "eBay" if kind == "FROM_EBAY" else data.get("buyer") or f"acheteur_{n}"
        item = data.get("item") or f"1100{n}"
        message = {"messageId": f"m{n}", "createdDate": _t(time.time()), "messageBody": data["body"],
                   "senderUsername": buyer, "recipientUsername": s.username,
                   "subject": f"Question sur l'objet {item}", "readStatus": False}  # fmt: skip
        s.conversations.append({"conversationId": f"c{n}", "conversationType": kind, "buyer": buyer,
                                "conversationStatus": "ACTIVE", "conversationTitle": message["subject"],
                                "createdDate": message["createdDate"], "referenceId": item,
                                "referenceType": "LISTING", "messages": [message]})  # fmt: skip
        return json_answer(
            {"messageId": message["messageId"], "threadId": f"c{n}", "orderId": None}, 201
        )

    @post("/shops/{number:str}/orders", sync_to_thread=False, status_code=201)
    def sold(number: str, data: dict[str, int]) -> Response[bytes]:
        """``count`` new orders of the seller at once (a flood of sales), made now."""
        s = sellers[number]
        made = [_order(s, len(s.orders) + k, time.time()) for k in range(data["count"])]
        s.orders += made
        return json_answer({"orderIds": [o["orderId"] for o in made]}, 201)

    @post(
        "/shops/{number:str}/threads/{thread:str}/messages", sync_to_thread=False, status_code=201
    )
    def written(number: str, thread: str, data: dict[str, Any]) -> Response[bytes]:
        """The buyer writes again in a conversation, its files as links (``mediaUrl``)."""
        c = next(c for c in sellers[number].conversations if c["conversationId"] == thread)
        media = [{"mediaName": f["name"], "mediaType": "PDF", "mediaUrl": f["url"]}
                 for f in data.get("attachments", [])]  # fmt: skip
        message = {"messageId": f"m{next(ids)}", "createdDate": _t(time.time()),
                   "messageBody": data["body"], "senderUsername": c["buyer"],
                   "recipientUsername": sellers[number].username, "subject": c["conversationTitle"],
                   "readStatus": False, **({"messageMedia": media} if media else {})}  # fmt: skip
        c["messages"].append(message)
        return json_answer({"messageId": message["messageId"]}, 201)

    @get("/shops/{number:str}/sent", sync_to_thread=False)
    def sent(number: str) -> Response[bytes]:
        return json_answer({"sent": [{"body": b} for b in sellers[number].sent]})

    @get("/shops/{number:str}/conversations", sync_to_thread=False)
    def read_marks(number: str) -> Response[bytes]:
        return json_answer(sellers[number].conversations)

    @post("/shops/{number:str}/revoke", sync_to_thread=False)
    def revoke(number: str) -> Response[bytes]:
        """The seller withdraws its consent: its refresh and access tokens stop working."""
        sellers[number].generation += 1
        refreshing[sellers[number].refresh_token] = sellers[number]
        for token, (s, _) in list(access.items()):
            if s.number == number:
                del access[token]
        return json_answer({"revoked": True})

    @post("/shops/{number:str}/expire-tokens", sync_to_thread=False)
    def expire(number: str) -> Response[bytes]:
        for token, (s, _) in list(access.items()):
            if s.number == number:
                access[token] = (s, 0.0)
        return json_answer({"expired": True})

    @get("/shops/{number:str}/token-requests", sync_to_thread=False)
    def token_requests(number: str) -> Response[bytes]:
        return json_answer({"tokenRequests": sellers[number].token_requests})

    @put("/limits", sync_to_thread=False)
    def set_limits(data: dict[str, int]) -> Response[bytes]:
        limits.update({k: int(v) for k, v in data.items() if k in limits})
        return json_answer(limits)

    @get("/grants", sync_to_thread=False)
    def granted() -> Response[bytes]:
        day = today()
        return json_answer({"refreshGrants": grants.get(day, 0),
                            "refusedGrants": refused_grants.get(day, 0)})  # fmt: skip

    @get("/shops/{number:str}/calls", sync_to_thread=False)
    def calls_of(number: str) -> Response[bytes]:
        """The seller's calls today, the app's beside (the Fulfillment API's apart) and the
        app's calls answered 429 past its quotas."""
        day = today()
        return json_answer({"calls": calls.get((day, number), 0), "app": calls.get((day, "app"), 0),
                            "fulfillment": calls.get((day, "fulfillment"), 0),
                            "refused": calls.get((day, "refused-app"), 0),
                            "fulfillmentRefused": calls.get((day, "refused-fulfillment"), 0)})  # fmt: skip

    admin = [listed_shops, register, set_limits, calls_of, granted, opened, sold, written, sent, read_marks, revoke, expire, token_requests,
             *fault_handlers(faults, EbayFaults)]  # fmt: skip
    api = [authorize, token, user, conversations, conversation, send, update, orders]
    return [*api, Router(ADMIN, route_handlers=admin)]


def consent_fields(seller: Mapping[str, Any]) -> dict[str, str]:
    """A seller of ``GET /_sandbox/ebay/shops`` as its consent's fields (the connector's
    credential field names)."""
    return {"user_id": seller["userId"], "refresh_token": seller["refreshToken"],
            "client_id": seller["clientId"], "client_secret": seller["clientSecret"]}  # fmt: skip


def service_env(url: str) -> dict[str, str]:
    return {"EBAY_API_URL": f"{url}{ROOT}", "EBAY_IDENTITY_URL": f"{url}{ROOT}",
            "EBAY_TOKEN_URL": f"{url}{ROOT}/identity/v1/oauth2/token",
            "EBAY_CONSENT_URL": f"{url}{ROOT}"}  # fmt: skip


@dataclass(frozen=True)
class EbayDriver(AdminDriver):
    recipients: tuple[Any, ...] = ("BUYER",)
    file_reference: str = "url"  # a message's files are links the sender hosts

    def buyer_message(self, text: str) -> dict[str, Any]:
        return {"body": text}

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return service_env(sandbox_url) | {"EBAY_POLL_INTERVAL_SECONDS": "2", "EBAY_TIMEOUT_SECONDS": "2",
                                           "EBAY_CALL_DEADLINE_SECONDS": "2", "EBAY_FIRST_POLL_DAYS": "1"}  # fmt: skip

    def sandbox_settings(self) -> dict[str, str]:
        return {}

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = answered(await http.get(self.shops_listed_at))
        return [DoubleShop(s["name"], s["number"], consent_fields(s)) for s in listed]

    async def consent_app(self, http: httpx.AsyncClient, callback_url: str) -> ConsentApp:
        registered = await http.put(
            f"{self.admin}/apps/{RU_NAME}", json={"acceptUrl": callback_url}
        )
        app = answered(registered)
        fields = {"client_id": app["clientId"], "client_secret": app["clientSecret"],
                  "ru_name": RU_NAME, "redirect_uri": callback_url}  # fmt: skip
        return ConsentApp("secret/keybuzz/ebay/app", fields)

    async def consent(self, http: httpx.AsyncClient, consent_url: str, shop: DoubleShop, *,
                      decline: bool = False) -> str:  # fmt: skip
        """The double's page has a link per seller: the shop's seller follows its own."""
        chosen = {"decline": "1"} if decline else {"user": shop.account}
        answer = await http.get(httpx.URL(consent_url).copy_merge_params(chosen))
        if answer.status_code not in (302, 303, 307):
            raise AssertionError(f"the consent page answered {answer.status_code}: {answer.text}")
        return str(answer.headers["location"])

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = answered(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return ["BUYER" for s in sent if s["body"] == text]


def drivers() -> dict[str, ShopDriver]:
    bodies = double_faults(
        {"TRUNCATED": "invalid_json", "WRONG_CONTENT_TYPE": "html", **JSON_FAULTS},
        answer_cap=8 << 20,  # the eBay connector's SPEC.max_response_bytes
    )
    return {"EBAY": EbayDriver(
        marketplace="EBAY", api_family="ebay", customer_care="eBay", admin=ADMIN,
        reading=("getConversations", "getConversation"), replying="sendMessage", bodies=bodies,
        revoking="revoke",
    )}  # fmt: skip


DOUBLE = Double(
    "ebay",
    service_env,
    settings=EbayDoubleSettings,
    routes_at=f"{__name__}:routes",
    drivers_at=f"{__name__}:drivers",
)
