"""The eBay double's routes: its sign-in and consent page, its OAuth token endpoint, the
Identity, Message and Fulfillment APIs for its sellers, each request checked against eBay's
descriptions (contract.py) and the sandbox's faults; its admin under /_sandbox/ebay."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

import msgspec
from keybuzz_sandbox.answers import gateway_page, held_back, json_answer
from keybuzz_sandbox.double_kit.admin import admin_router, known
from keybuzz_sandbox.double_kit.api import PROXY_PAGE, Answer, served
from keybuzz_sandbox.double_kit.routes import operation_route
from keybuzz_sandbox.fault_admin import fault_handlers
from keybuzz_sandbox.faults import WebPageFaults, hostile_page, reply_faults
from litestar import Request, Response, get, post, put
from litestar.response import Redirect, Stream

from .contract import DESCRIBED
from .env import ACCESS_SECONDS, ADMIN, CLIENT_ID, REFRESH_SECONDS, ROOT, RU_NAME
from .state import EbayState, Seller, seller_order, stamp

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


class Asked(NamedTuple):
    """What an operation is asked: the query, the URL without it (its pages' links), the
    path's parameters, the JSON body (POST)."""

    query: dict[str, str]
    url: str
    path: dict[str, str]
    body: Any


# What an operation answers a seller: its JSON (None: a 204's) and its status.
Make = Callable[[Seller, Asked], tuple[Any, int]]


def routes(sb: Sandbox) -> list[Any]:
    state = EbayState.seeded(sb)

    def error(status: int, message: str, error_id: int = 2004) -> Response[bytes]:
        return json_answer(
            {
                "errors": [
                    {
                        "errorId": error_id,
                        "domain": "API_MESSAGE",
                        "category": "REQUEST",
                        "message": message,
                    }
                ]
            },
            status,
        )

    @get(f"{ROOT}/oauth2/authorize", include_in_schema=False, sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
        """eBay's sign-in and consent, one link a seller (the double signs no one in)."""
        q = dict(request.query_params)
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("redirect_uri") not in state.accept
            or q.get("response_type") != "code"
        ):
            return Response(b"<h1>invalid_request</h1>", status_code=400, media_type="text/html")
        back, asked = state.accept[q["redirect_uri"]], q.get("state", "")
        if "decline" in q:
            return Redirect(f"{back}?{urlencode({'error': 'access_denied', 'state': asked})}")
        if (seller := state.sellers.get(q.get("user", ""))) is None:
            links = "".join(
                f'<li><a href="?{urlencode({**q, "user": n})}">Se connecter : vendeur_{n}</a></li>'
                for n in state.sellers
            )
            return Response(f"<h1>eBay</h1><ul>{links}</ul>".encode(), media_type="text/html")
        code = f"v^1.1#i^1#c^{next(state.ids)}#{hashlib.sha256(f'{state.seed}{time.time()}'.encode()).hexdigest()[:20]}"
        state.codes[code] = (seller.number, time.time() + 299)  # 299 s [official]
        return Redirect(f"{back}?{urlencode({'state': asked, 'code': code})}")

    @post(f"{ROOT}/identity/v1/oauth2/token", include_in_schema=False)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        basic = base64.b64encode(f"{CLIENT_ID}:{state.secret}".encode()).decode()
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
            seller_at = state.codes.pop(str(form.get("code")), None)
            if (
                seller_at is None
                or seller_at[1] < time.time()
                or form.get("redirect_uri") != RU_NAME
            ):
                return invalid
            seller, extra = (
                state.sellers[seller_at[0]],
                {"refresh_token_expires_in": REFRESH_SECONDS},
            )
            extra["refresh_token"] = seller.refresh_token  # type: ignore[assignment]
        elif form.get("grant_type") == "refresh_token":
            found = state.by_refresh(str(form.get("refresh_token")))
            if found is None:
                return invalid
            day = state.today()
            if state.grants.get(day, 0) >= state.limits["grants"]:
                state.refused_grants[day] = state.refused_grants.get(day, 0) + 1
                return json_answer(
                    {
                        "errors": [
                            {
                                "errorId": 1001,
                                "domain": "OAuth",
                                "category": "REQUEST",
                                "message": "Too many requests",
                                "longMessage": "The application's daily limit of refresh token grants "
                                "has been reached.",
                            }
                        ]
                    },
                    429,
                )
            seller, extra = found, {}
            state.grants[day] = state.grants.get(day, 0) + 1
        else:
            return json_answer({"error": "unsupported_grant_type"}, 400)
        seller.token_requests += 1
        issued = f"v^1.1#i^1#p^3#{next(state.ids)}#{hashlib.sha256(f'{state.seed}{next(state.ids)}'.encode()).hexdigest()}"
        state.access[issued] = (seller, time.time() + ACCESS_SECONDS)
        return json_answer(
            {
                "access_token": issued,
                "expires_in": ACCESS_SECONDS,
                "token_type": "User Access Token",
                **extra,
            }
        )

    def bearer(request: Request[Any, Any, Any]) -> Seller | None:
        held = state.access.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        return held[0] if held and held[1] > time.time() else None

    async def answer(
        request: Request[Any, Any, Any], api: str, operation: str, make: Any, body: Any = None
    ) -> Response[bytes] | Stream:
        decision = await state.faults.delayed(f"ebay.{operation}")
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
        if state.spent(seller, api):
            return error(
                429, "Too many requests. The request limit has been reached for the resource.", 2001
            )
        described = DESCRIBED[api]
        wrong = described.query_problems(operation, dict(request.query_params))
        wrong += described.body_problems(operation, body) if body is not None else []
        if wrong:
            return error(400, "; ".join(wrong))

        async def made() -> Response[bytes]:
            payload, status = make(seller)  # None: a 204's
            kind, huge = decision.malformed_kind, state.faults.config.huge_bytes
            return served(Answer(status, payload), kind, huge, page=PROXY_PAGE)

        return await held_back(state.faults.slow_answer(f"ebay.{operation}", seller.number), made)

    def user(s: Seller, _asked: Asked) -> tuple[Any, int]:
        return {
            "userId": s.user_id,
            "username": s.username,
            "accountType": "BUSINESS",
            "registrationMarketplaceId": "EBAY_FR",
            "status": "CONFIRMED",
        }, 200

    def page(items: list[Any], q: Any, key: str, href: str, seller: str) -> dict[str, Any]:
        limit, offset = int(q.get("limit", 25)), int(q.get("offset", 0))
        hostile = hostile_page(
            state.faults.config, items[:limit], seller, offset > 0
        )  # paged wrong
        if hostile is not None:
            return {
                key: hostile,
                "href": href,
                "limit": limit,
                "offset": offset,
                "total": len(items) + limit + offset,
                "next": f"{href}?{urlencode({**q, 'offset': offset + limit})}",
            }
        shown = {
            key: items[offset : offset + limit],
            "href": href,
            "limit": limit,
            "offset": offset,
            "total": len(items),
        }
        if offset + limit < len(items):
            shown["next"] = f"{href}?{urlencode({**q, 'offset': offset + limit})}"
        return shown

    def summary(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in ("messages", "buyer")} | {
            "latestMessage": c["messages"][-1],
            "unreadCount": sum(not m["readStatus"] for m in c["messages"]),
        }

    def conversations(s: Seller, asked: Asked) -> tuple[Any, int]:
        q = asked.query
        found = [c for c in s.conversations if c["conversationType"] == q.get("conversation_type")]
        if "start_time" in q:
            found = [c for c in found if c["messages"][-1]["createdDate"] >= q["start_time"]]
        found.sort(key=lambda c: c["messages"][-1]["createdDate"], reverse=True)
        return page([summary(c) for c in found], q, "conversations", asked.url, s.number), 200

    def one(s: Seller, asked: Asked) -> tuple[Any, int]:
        q, wanted = asked.query, asked.path["conversation_id"]
        c = next((c for c in s.conversations if c["conversationId"] == wanted), None)
        if c is None or c["conversationType"] != q.get("conversation_type"):
            return {"errors": [{"errorId": 2103, "message": "conversation not found"}]}, 404
        shown = page(c["messages"], q, "messages", asked.url, s.number)
        kept = ("conversationStatus", "conversationTitle", "conversationType")
        return {k: c[k] for k in kept} | shown, 200

    def send(s: Seller, asked: Asked) -> tuple[Any, int]:
        body, shown = asked.body, reply_faults(state.faults.config, time.time())
        wanted = body.get("conversationId")
        c = next((c for c in s.conversations if c["conversationId"] == wanted), None)
        text = str(body.get("messageText", ""))
        if c is None or c["conversationType"] != "FROM_MEMBERS" or not 0 < len(text) <= 2000:
            refused = {"errorId": 2101, "message": "invalid conversationId or messageText"}
            return {"errors": [refused]}, 400
        s.sent.append(text)
        said = {
            "messageId": f"m{next(state.ids)}",
            "createdDate": stamp(shown.date(time.time())),
            "messageBody": shown.show(text),
            "senderUsername": s.username,
            "recipientUsername": c["buyer"],
            "subject": c["conversationTitle"],
            "readStatus": False,
        }
        c["messages"].append(said)
        answered = {k.replace("Username", "UserName"): v for k, v in said.items()}
        return {k: v for k, v in answered.items() if k != "messageId"}, 201

    def update(s: Seller, asked: Asked) -> tuple[Any, int]:
        body = asked.body
        for c in s.conversations:
            if c["conversationId"] == body.get("conversationId") and "read" in body:
                for m in c["messages"]:
                    m["readStatus"] = m["readStatus"] or (
                        m["senderUsername"] != s.username and body["read"]
                    )
        return None, 204

    def orders(s: Seller, asked: Asked) -> tuple[Any, int]:
        q, found = asked.query, list(s.orders)
        if "orderIds" in q:
            found = [o for o in found if o["orderId"] in q["orderIds"].split(",")]
        elif "filter" in q:
            name, _, window = q["filter"].partition(":")
            low, _, high = window.strip("[]").partition("..")
            key = {"creationdate": "creationDate", "lastmodifieddate": "lastModifiedDate"}.get(name)
            if key is None:
                return {"errors": [{"errorId": 30700, "message": "invalid filter"}]}, 400
            found = [o for o in found if low <= o[key] and (not high or o[key] <= high)]
        return page(found, q, "orders", asked.url, s.number), 200

    # eBay's operation id → (its API, what it answers a seller); method and path: described.
    operations: dict[str, tuple[str, Make]] = {
        "getUser": ("identity", user),
        "getConversations": ("message", conversations),
        "getConversation": ("message", one),
        "sendMessage": ("message", send),
        "updateConversation": ("message", update),
        "getOrders": ("fulfillment", orders),
    }

    def endpoint(operation: str, api: str, make: Make) -> Any:
        path, method, _ = DESCRIBED[api].operation(operation)
        base = DESCRIBED[api].spec()["servers"][0]["variables"]["basePath"]["default"]

        async def handler(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
            body = msgspec.json.decode(await request.body()) if method == "post" else None
            url = str(request.url).split("?")[0]
            asked = Asked(dict(request.query_params), url, dict(request.path_params), body)
            return await answer(request, api, operation, lambda s: make(s, asked), body)

        return operation_route(f"{ROOT}{base}{path}", method, f"ebay.{operation}", handler)

    # --- admin -------------------------------------------------------------------------------

    def seller_of(number: str) -> Seller:
        return known(state.sellers.get(number), f"shop {number}")

    @get("/shops", sync_to_thread=False)
    def listed_shops() -> Response[bytes]:
        return json_answer(
            [
                {
                    "name": s.name or f"eBay {s.username}",
                    "number": s.number,
                    "userId": s.user_id,
                    "username": s.username,
                    "refreshToken": s.refresh_token,
                    "clientId": CLIENT_ID,
                    "clientSecret": state.secret,
                }
                for s in state.sellers.values()
            ]
        )

    @put("/apps/{ru_name:str}", sync_to_thread=False)
    def register(ru_name: str, data: dict[str, str]) -> Response[bytes]:
        """The accept URL eBay's developer portal registers with a RuName."""
        state.accept[ru_name] = data["acceptUrl"]
        return json_answer({"ruName": ru_name, "clientId": CLIENT_ID, "clientSecret": state.secret})

    @post("/shops/{number:str}/threads", sync_to_thread=False, status_code=201)
    def opened(number: str, data: dict[str, str]) -> Response[bytes]:
        s, n = seller_of(number), next(state.ids)
        kind = "FROM_EBAY" if data.get("from") == "EBAY" else "FROM_MEMBERS"
        # The admin may name the buyer and the listing (one a seeded order bought).
        buyer = "eBay" if kind == "FROM_EBAY" else data.get("buyer") or f"acheteur_{n}"
        item = data.get("item") or f"1100{n}"
        message = {
            "messageId": f"m{n}",
            "createdDate": stamp(time.time()),
            "messageBody": data["body"],
            "senderUsername": buyer,
            "recipientUsername": s.username,
            "subject": f"Question sur l'objet {item}",
            "readStatus": False,
        }
        s.conversations.append(
            {
                "conversationId": f"c{n}",
                "conversationType": kind,
                "buyer": buyer,
                "conversationStatus": "ACTIVE",
                "conversationTitle": message["subject"],
                "createdDate": message["createdDate"],
                "referenceId": item,
                "referenceType": "LISTING",
                "messages": [message],
            }
        )
        return json_answer(
            {"messageId": message["messageId"], "threadId": f"c{n}", "orderId": None}, 201
        )

    @post("/shops/{number:str}/orders", sync_to_thread=False, status_code=201)
    def sold(number: str, data: dict[str, int]) -> Response[bytes]:
        """``count`` new orders of the seller at once (a flood of sales), made now."""
        s = seller_of(number)
        made = [seller_order(s, len(s.orders) + k, time.time()) for k in range(data["count"])]
        s.orders += made
        return json_answer({"orderIds": [o["orderId"] for o in made]}, 201)

    @post(
        "/shops/{number:str}/threads/{thread:str}/messages", sync_to_thread=False, status_code=201
    )
    def written(number: str, thread: str, data: dict[str, Any]) -> Response[bytes]:
        """The buyer writes again in a conversation, its files as links (``mediaUrl``)."""
        listed = seller_of(number).conversations
        c = known(
            next((c for c in listed if c["conversationId"] == thread), None), f"thread {thread}"
        )
        media = [
            {"mediaName": f["name"], "mediaType": "PDF", "mediaUrl": f["url"]}
            for f in data.get("attachments", [])
        ]
        message = {
            "messageId": f"m{next(state.ids)}",
            "createdDate": stamp(time.time()),
            "messageBody": data["body"],
            "senderUsername": c["buyer"],
            "recipientUsername": seller_of(number).username,
            "subject": c["conversationTitle"],
            "readStatus": False,
            **({"messageMedia": media} if media else {}),
        }
        c["messages"].append(message)
        return json_answer({"messageId": message["messageId"]}, 201)

    @get("/shops/{number:str}/sent", sync_to_thread=False)
    def sent(number: str) -> Response[bytes]:
        return json_answer({"sent": [{"body": b} for b in seller_of(number).sent]})

    @post("/shops/{number:str}/revoke", sync_to_thread=False)
    def revoke(number: str) -> Response[bytes]:
        """The seller withdraws its consent: its refresh and access tokens stop working."""
        seller_of(number).generation += 1
        state.refreshing[seller_of(number).refresh_token] = seller_of(number)
        for token, (s, _) in list(state.access.items()):
            if s.number == number:
                del state.access[token]
        return json_answer({"revoked": True})

    @post("/shops/{number:str}/expire-tokens", sync_to_thread=False)
    def expire(number: str) -> Response[bytes]:
        for token, (s, _) in list(state.access.items()):
            if s.number == number:
                state.access[token] = (s, 0.0)
        return json_answer({"expired": True})

    @get("/shops/{number:str}/token-requests", sync_to_thread=False)
    def token_requests(number: str) -> Response[bytes]:
        return json_answer({"tokenRequests": seller_of(number).token_requests})

    @put("/limits", sync_to_thread=False)
    def set_limits(data: dict[str, int]) -> Response[bytes]:
        state.limits.update({k: int(v) for k, v in data.items() if k in state.limits})
        return json_answer(state.limits)

    @get("/grants", sync_to_thread=False)
    def granted() -> Response[bytes]:
        day = state.today()
        return json_answer(
            {
                "refreshGrants": state.grants.get(day, 0),
                "refusedGrants": state.refused_grants.get(day, 0),
            }
        )

    @get("/shops/{number:str}/calls", sync_to_thread=False)
    def calls_of(number: str) -> Response[bytes]:
        """The seller's calls today, the app's beside (the Fulfillment API's apart) and the
        app's calls answered 429 past its quotas."""
        day = state.today()
        return json_answer(
            {
                "calls": state.calls.get((day, number), 0),
                "app": state.calls.get((day, "app"), 0),
                "fulfillment": state.calls.get((day, "fulfillment"), 0),
                "refused": state.calls.get((day, "refused-app"), 0),
                "fulfillmentRefused": state.calls.get((day, "refused-fulfillment"), 0),
            }
        )

    admin = [
        listed_shops,
        register,
        set_limits,
        calls_of,
        granted,
        opened,
        sold,
        written,
        sent,
        revoke,
        expire,
        token_requests,
        *fault_handlers(state.faults, WebPageFaults),
    ]
    api = [endpoint(operation, *spec) for operation, spec in operations.items()]
    return [authorize, token, *api, admin_router(ADMIN, admin)]
