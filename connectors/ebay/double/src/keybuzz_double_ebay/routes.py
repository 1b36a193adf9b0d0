"""The eBay double's routes: its sign-in and consent page, its OAuth token endpoint, the
Identity, Message and Fulfillment APIs for its sellers, each request checked against eBay's
descriptions (contract.py) and the sandbox's faults; its admin under /_sandbox/ebay."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

import msgspec
from keybuzz_sandbox.answers import gateway_page, held_back, json_answer
from keybuzz_sandbox.double_kit.admin import ShopAdmin, shop_log_handlers
from keybuzz_sandbox.double_kit.api import PROXY_PAGE, Answer, Refused, served
from keybuzz_sandbox.double_kit.oauth import basic_credentials
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import WebPageFaults, hostile_page, reply_faults
from litestar import Request, Response, get, post, put
from litestar.response import Redirect, Stream

from . import ACCESS_SECONDS, CLIENT_ID, REFRESH_SECONDS, ROOT, RU_NAME
from .contract import DESCRIBED
from .state import EbayState, Grant, Seller, message, seller_order

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


class Asked(NamedTuple):
    """What an operation is asked: the query, the URL without it (its pages' links), the
    path's parameters, the JSON body (POST)."""

    query: dict[str, str]
    url: str
    path: dict[str, str]
    body: Any


# What an operation answers a seller: its JSON (None: a 204's) and its status; its
# ``Refused`` (``code`` eBay's errorId) answered with eBay's error body.
Make = Callable[[Seller, Asked], tuple[Any, int]]


def errors(message: str, error_id: int = 2004, **more: str) -> dict[str, Any]:
    """eBay's error body (``domain`` API_MESSAGE unless ``more`` says otherwise)."""
    said = {"errorId": error_id, "domain": "API_MESSAGE", "category": "REQUEST", "message": message}
    return {"errors": [said | more]}


def error(status: int, message: str, error_id: int = 2004, **more: str) -> Response[bytes]:
    return json_answer(errors(message, error_id, **more), status)


def routes(sb: Sandbox) -> Served:
    state = EbayState.seeded(sb)

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
        digest = hashlib.sha256(f"{state.seed}{time.time()}".encode()).hexdigest()[:20]
        code = f"v^1.1#i^1#c^{next(state.ids)}#{digest}"
        state.codes.issue(code, Grant(seller.number, sb.clock.now() + 299))  # 299 s [official]
        return Redirect(f"{back}?{urlencode({'state': asked, 'code': code})}")

    def granted_seller(form: dict[str, Any]) -> tuple[Seller, dict[str, Any]] | None:
        """The seller a grant names and what its answer adds, None when it is invalid."""
        if form.get("grant_type") == "authorization_code":
            code = state.codes.redeem(str(form.get("code")))
            if code is None or form.get("redirect_uri") != RU_NAME:
                return None
            seller = state.sellers[code.number]
            return seller, {
                "refresh_token_expires_in": REFRESH_SECONDS,
                "refresh_token": seller.refresh_token,
            }
        token = str(form.get("refresh_token"))
        found = state.refreshing.get(token)
        return None if found is None or found.refresh_token != token else (found, {})

    @post(f"{ROOT}/identity/v1/oauth2/token", include_in_schema=False)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        if basic_credentials(request.headers.get("authorization")) != (CLIENT_ID, state.secret):
            said = {"error": "invalid_client", "error_description": "client authentication failed"}
            return json_answer(said, 401)
        form = dict(await request.form())
        if form.get("grant_type") not in ("authorization_code", "refresh_token"):
            return json_answer({"error": "unsupported_grant_type"}, 400)
        if (found := granted_seller(form)) is None:
            echoed = sb.echo.of(str(form.get("refresh_token") or ""))
            said = {"error": "invalid_grant", "error_description": f"the grant is invalid{echoed}"}
            return json_answer(said, 400)
        seller, extra = found
        if form["grant_type"] == "refresh_token" and not state.granted():
            why = "The application's daily limit of refresh token grants has been reached."
            return error(429, "Too many requests", 1001, domain="OAuth", longMessage=why)
        seller.token_requests += 1
        digest = hashlib.sha256(f"{state.seed}{next(state.ids)}".encode()).hexdigest()
        issued = f"v^1.1#i^1#p^3#{next(state.ids)}#{digest}"
        state.access.issue(issued, Grant(seller.number, sb.clock.now() + ACCESS_SECONDS))
        answer = {"access_token": issued, "expires_in": ACCESS_SECONDS}
        return json_answer(answer | {"token_type": "User Access Token", **extra})

    async def answer(
        api: str, request: Request[Any, Any, Any], operation: str, make: Make
    ) -> Response[bytes] | Stream:
        decision = await state.faults.delayed(f"ebay.{operation}")
        if decision.error_status:
            return gateway_page(decision.error_status)
        held = state.access.valid(request.headers.get("authorization", "").removeprefix("Bearer "))
        if held is None:
            why = "Invalid access token. Check the value of the Authorization HTTP request header."
            return error(401, why, 1001)
        seller = state.sellers[held.number]
        if (refused := sb.echo.refusal(seller.refresh_token)) is not None:
            return error(400, refused)
        if state.spent(seller, api):
            why = "Too many requests. The request limit has been reached for the resource."
            return error(429, why, 2001)
        described, query = DESCRIBED[api], dict(request.query_params)
        body = msgspec.json.decode(await request.body()) if request.method == "POST" else None
        wrong = described.query_problems(operation, query)
        wrong += described.body_problems(operation, body) if body is not None else []
        if wrong:
            return error(400, "; ".join(wrong))
        asked = Asked(query, str(request.url).split("?")[0], dict(request.path_params), body)

        async def made() -> Response[bytes]:
            try:
                payload, status = make(seller, asked)  # None: a 204's
            except Refused as refused:
                payload, status = errors(refused.message, int(refused.code)), refused.status
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

    def page(items: list[Any], key: str, seller: Seller, asked: Asked) -> dict[str, Any]:
        q = asked.query
        limit, offset = int(q.get("limit", 25)), int(q.get("offset", 0))
        shown, total = items[offset : offset + limit], len(items)
        hostile = hostile_page(state.faults.config, items[:limit], seller.number, offset > 0)
        if hostile is not None:  # paged wrong: another page always follows
            shown, total = hostile, len(items) + limit + offset
        listed = {key: shown, "href": asked.url, "limit": limit, "offset": offset, "total": total}
        if offset + limit < total:
            listed["next"] = f"{asked.url}?{urlencode({**q, 'offset': offset + limit})}"
        return listed

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
        return page([summary(c) for c in found], "conversations", s, asked), 200

    def one(s: Seller, asked: Asked) -> tuple[Any, int]:
        c = s.conversation(asked.path["conversation_id"])
        if c is None or c["conversationType"] != asked.query.get("conversation_type"):
            raise Refused(404, "conversation not found", "2103")
        kept = ("conversationStatus", "conversationTitle", "conversationType")
        return {k: c[k] for k in kept} | page(c["messages"], "messages", s, asked), 200

    def send(s: Seller, asked: Asked) -> tuple[Any, int]:
        body, shown = asked.body, reply_faults(state.faults.config, time.time())
        c = s.conversation(body.get("conversationId"))
        text = str(body.get("messageText", ""))
        if c is None or c["conversationType"] != "FROM_MEMBERS" or not 0 < len(text) <= 2000:
            raise Refused(400, "invalid conversationId or messageText", "2101")
        s.sent.append({"body": text})
        said = message(
            f"m{next(state.ids)}",
            s.username,
            c["buyer"],
            c["conversationTitle"],
            shown.show(text),
            shown.date(time.time()),
        )
        c["messages"].append(said)
        answered = {k.replace("Username", "UserName"): v for k, v in said.items()}
        return {k: v for k, v in answered.items() if k != "messageId"}, 201

    def update(s: Seller, asked: Asked) -> tuple[Any, int]:
        body = asked.body
        c = s.conversation(body.get("conversationId"))
        if c is not None and "read" in body:
            for m in c["messages"]:
                m["readStatus"] |= m["senderUsername"] != s.username and body["read"]
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
                raise Refused(400, "invalid filter", "30700")
            found = [o for o in found if low <= o[key] and (not high or o[key] <= high)]
        return page(found, "orders", s, asked), 200

    # eBay's operation ids by API → what each answers a seller; method and path: described.
    operations: dict[str, dict[str, Make]] = {
        "identity": {"getUser": user},
        "message": {
            "getConversations": conversations,
            "getConversation": one,
            "sendMessage": send,
            "updateConversation": update,
        },
        "fulfillment": {"getOrders": orders},
    }

    def served_api(api: str) -> list[Any]:
        described = DESCRIBED[api]
        base = described.spec()["servers"][0]["variables"]["basePath"]["default"]
        return described.routes(f"{ROOT}{base}", "ebay", operations[api], partial(answer, api))

    # --- admin -------------------------------------------------------------------------------

    threads = {"thread": ("thread", lambda seller, thread: seller.conversation(thread))}
    at_shop = ShopAdmin("/shops/{number:str}", state.sellers.get, threads)

    @at_shop.listing("/shops")
    def listed_shops(_root: str) -> list[dict[str, Any]]:
        return [
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

    @put("/apps/{ru_name:str}", sync_to_thread=False)
    def register(ru_name: str, data: dict[str, str]) -> Response[bytes]:
        """The accept URL eBay's developer portal registers with a RuName."""
        state.accept[ru_name] = data["acceptUrl"]
        return json_answer({"ruName": ru_name, "clientId": CLIENT_ID, "clientSecret": state.secret})

    @at_shop.post("/threads", dict[str, str], 201)
    def opened(s: Seller, data: dict[str, str]) -> dict[str, Any]:
        n = next(state.ids)
        kind = "FROM_EBAY" if data.get("from") == "EBAY" else "FROM_MEMBERS"
        # The admin may name the buyer and the listing (one a seeded order bought).
        buyer = "eBay" if kind == "FROM_EBAY" else data.get("buyer") or f"acheteur_{n}"
        item = data.get("item") or f"1100{n}"
        subject = f"Question sur l'objet {item}"
        said = message(f"m{n}", buyer, s.username, subject, data["body"], time.time())
        s.conversations.append(
            {
                "conversationId": f"c{n}",
                "conversationType": kind,
                "buyer": buyer,
                "conversationStatus": "ACTIVE",
                "conversationTitle": subject,
                "createdDate": said["createdDate"],
                "referenceId": item,
                "referenceType": "LISTING",
                "messages": [said],
            }
        )
        return {"messageId": f"m{n}", "threadId": f"c{n}", "orderId": None}

    @at_shop.post("/orders", dict[str, int], 201)
    def sold(s: Seller, data: dict[str, int]) -> dict[str, Any]:
        """``count`` new orders of the seller at once (a flood of sales), made now."""
        made = [seller_order(s, len(s.orders) + k, time.time()) for k in range(data["count"])]
        s.orders += made
        return {"orderIds": [o["orderId"] for o in made]}

    @at_shop.post("/threads/{thread:str}/messages", dict[str, Any], 201)
    def written(s: Seller, thread: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """The buyer writes again in a conversation, its files as links (``mediaUrl``)."""
        media = [
            {"mediaName": f["name"], "mediaType": "PDF", "mediaUrl": f["url"]}
            for f in data.get("attachments", [])
        ]
        said = message(
            f"m{next(state.ids)}",
            thread["buyer"],
            s.username,
            thread["conversationTitle"],
            data["body"],
            time.time(),
        )
        thread["messages"].append(said | ({"messageMedia": media} if media else {}))
        return {"messageId": said["messageId"]}

    @put("/limits", sync_to_thread=False)
    def set_limits(data: dict[str, int]) -> Response[bytes]:
        state.limits.update({k: int(v) for k, v in data.items() if k in state.limits})
        return json_answer(state.limits)

    @get("/grants", sync_to_thread=False)
    def grants() -> Response[bytes]:
        day = state.today()
        return json_answer(
            {
                "refreshGrants": state.grants[(day, "granted")],
                "refusedGrants": state.grants[(day, "refused")],
            }
        )

    @at_shop.get("/calls")
    def calls_of(s: Seller) -> dict[str, int]:
        """The seller's calls today, the app's beside (the Fulfillment API's apart) and the
        app's calls answered 429 past its quotas."""
        day = state.today()
        return {
            "calls": state.calls[(day, s.number)],
            "app": state.calls[(day, "app")],
            "fulfillment": state.calls[(day, "fulfillment")],
            "refused": state.calls[(day, "refused-app")],
            "fulfillmentRefused": state.calls[(day, "refused-fulfillment")],
        }

    admin = [
        register,
        set_limits,
        grants,
        *at_shop.handlers,
        *shop_log_handlers(at_shop.shop_of, ("revoke", state.revoke), expire_tokens=state.expire),
    ]
    api = [route for name in operations for route in served_api(name)]
    faults = (state.faults, WebPageFaults)
    return Served(api=[authorize, token, *api], admin=admin, faults=faults)
