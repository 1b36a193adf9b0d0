"""The connector kit's requester against a real HTTP server scripted per test: what every
connector built on it holds without writing it — a token shared by concurrent callers and
renewed once, the token endpoint's refusals read as credentials, a refusal the marketplace
declares as a hold, a Retry-After holding back later calls of the operation, a send never
repeated, redirects and next links that would leave the API refused, secrets never quoted;
a token kept elsewhere renewed once when the marketplace says it expired, the marketplace's
own errors, a pace around each request, answers decoded into their shape.
The connectors' own tests hold the same against their doubles."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import msgspec
import pytest
from keybuzz_devstack.testing import asgi_body, serving
from keybuzz_shared.connectors.kit import (
    ApiSpec,
    CallErrors,
    ClientCredentials,
    HeaderAuth,
    Refusals,
    Requester,
    ShopSettings,
)
from keybuzz_shared.connectors.kit.declaration import shop_options
from keybuzz_shared.connectors.seam import (
    AllowanceSpent,
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    CredentialsRefused,
)
from keybuzz_shared.file_links import FileLinks, FileTooLarge, FileUnavailable, LinkRefused
from keybuzz_shared.redaction import REDACTED

SECRET = "s3cr3t-client-secret"
KEY = "k3y-of-the-shop"


class KitCredentialsRefused(CredentialsRefused):
    pass


class KitUnavailable(CallUnavailable):
    label = "Kit"


class KitRefused(CallRefused):
    label = "Kit"


class KitUnreadable(CallAnswerUnreadable):
    label = "Kit"


class KitOutcomeUnknown(CallOutcomeUnknown):
    label = "Kit"


def held_when_challenged(response: httpx.Response, document: Any) -> Refusals.Held | None:
    if response.status_code == 403 and response.headers.get("server") == "firewall":
        return Refusals.Held(42.0, "the firewall challenged the call")
    return None


def spec(**changes: Any) -> ApiSpec:
    errors = CallErrors(
        unavailable=KitUnavailable,
        unreadable=KitUnreadable,
        outcome_unknown=KitOutcomeUnknown,
        refused=KitRefused,
        credentials_refused=KitCredentialsRefused,
    )
    return ApiSpec(
        "Kit",
        logging.getLogger("kit-test"),
        errors,
        Refusals(held=held_when_challenged),
        **changes,
    )


class Shop(ShopSettings, kw_only=True, frozen=True):
    """A shop API's settings, SHOP_<NAME>, as a connector declares them."""

    PREFIX: ClassVar[str] = "SHOP"
    MARKETPLACE: ClassVar[str] = "SHOP"

    api_url: str = "https://api.shop.example/"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Script:
    """What the server answers, by path: the next reply of a path's list (its last one
    repeated), and every request it saw."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def hits(self, path: str) -> int:
        return sum(1 for _, seen_path, _ in self.seen if seen_path == path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asgi_body(receive)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append((scope["method"], path, headers))
        queue = self.replies.get(path) or [Reply(404, {"message": "no such path"})]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        await asyncio.sleep(reply.delay)
        raw = reply.body if isinstance(reply.body, bytes) else msgspec.json.encode(reply.body)
        kind = "application/json" if not isinstance(reply.body, bytes) else "text/html"
        sent = {"content-type": kind, **reply.headers}
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
            }
        )
        await send({"type": "http.response.body", "body": raw})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    async with serving(script) as url:
        yield f"{url}/api/", script


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


FAST: Any = {"initial_backoff": 0.01, "max_backoff": 0.02, "call_deadline": 1.0}


def keyed(base: str, http: httpx.AsyncClient, **changes: Any) -> Requester:
    auth = HeaderAuth({"Authorization": KEY}, params={"shop_id": "7"}, secrets=(KEY,))
    return Requester(spec(**changes), auth, http, base, shop={"shop_id": "7"}, **FAST)


def oauth(
    base: str, http: httpx.AsyncClient, call_deadline: float = FAST["call_deadline"]
) -> tuple[Requester, ClientCredentials]:
    tokens = ClientCredentials(base + "token", "client", SECRET, headers={"SellerId": "9"})
    options = {**FAST, "call_deadline": call_deadline}
    return Requester(spec(), tokens, http, base, **options), tokens


def token(value: str, life: float = 3600) -> Reply:
    return Reply(body={"access_token": value, "expires_in": life, "token_type": "Bearer"})


async def test_concurrent_callers_share_one_token_and_a_refused_one_is_renewed_once(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/token"] = [token("first"), token("second")]
    script.replies["/api/orders"] = [Reply(body={"ok": 1})]
    # Five callers and a token's grant: past FAST's one second on a busy machine.
    requester, _ = oauth(base, http, call_deadline=30.0)
    answers = await asyncio.gather(*(requester.get_json("orders") for _ in range(5)))
    assert answers == [{"ok": 1}] * 5 and script.hits("/api/token") == 1
    calls = [h for m, p, h in script.seen if p == "/api/orders"]
    assert {h["authorization"] for h in calls} == {"Bearer first"}
    assert {h["sellerid"] for h in calls} == {"9"}

    script.replies["/api/orders"] = [Reply(401, {"detail": "expired"}), Reply(body={"ok": 2})]
    assert await requester.get_json("orders") == {"ok": 2}
    assert script.hits("/api/token") == 2
    assert script.seen[-1][2]["authorization"] == "Bearer second"


async def test_a_token_refused_again_once_renewed_is_the_credentials_refused(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/token"] = [token("one"), token("two")]
    script.replies["/api/orders"] = [Reply(401, {"detail": f"bad token for {SECRET}"})]
    requester, _ = oauth(base, http)
    with pytest.raises(KitCredentialsRefused) as refused:
        await requester.get_json("orders")
    assert "a token just granted was refused" in str(refused.value)
    assert SECRET not in str(refused.value) and script.hits("/api/token") == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(400, {"error": "invalid_client"}), KitCredentialsRefused),
        (Reply(401, {"error": "who?"}), KitCredentialsRefused),
        (Reply(400, {"error": "invalid_scope"}), KitRefused),
        (Reply(body={"access_token": "x", "token_type": "mac"}), KitUnreadable),
        (Reply(body={"token": "x"}), KitUnreadable),
    ],
)
async def test_the_token_endpoints_answers(
    server: tuple[str, Script], http: httpx.AsyncClient, reply: Reply, expected: type
) -> None:
    base, script = server
    script.replies["/api/token"] = [reply]
    requester, _ = oauth(base, http)
    with pytest.raises(expected):
        await requester.get_json("orders")
    assert script.hits("/api/orders") == 0


async def test_a_fixed_key_refused_is_the_credentials_refused_at_once_never_quoted(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/threads"] = [Reply(401, {"message": f"key {KEY} revoked"})]
    with pytest.raises(KitCredentialsRefused) as refused:
        await keyed(base, http).get_json("threads")
    assert "GET threads: HTTP 401 key [REDACTED] revoked" in str(refused.value)
    assert script.hits("/api/threads") == 1


async def test_a_declared_hold_is_unavailable_for_its_time_not_refused(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/threads"] = [Reply(403, b"<html>", {"server": "firewall"})]
    with pytest.raises(KitUnavailable) as held:
        await keyed(base, http).get_json("threads")
    assert held.value.retry_after == 42.0 and "firewall" in str(held.value)
    script.replies["/api/threads"] = [Reply(403, {"message": "not yours"})]
    with pytest.raises(KitRefused) as refused:
        await keyed(base, http).get_json("threads")
    assert refused.value.status == 403 and "not yours" in str(refused.value)


async def test_a_retry_after_holds_later_calls_of_the_operation_unsent(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/threads"] = [Reply(429, {}, {"retry-after": "30"})]
    script.replies["/api/orders"] = [Reply(body=[])]
    requester = keyed(base, http, holds_throttled=True)
    with pytest.raises(KitUnavailable):
        await requester.get_json("threads", operation="M11")
    with pytest.raises(KitUnavailable, match="held back") as held:
        await requester.get_json("threads", operation="M11")
    assert 29 < (held.value.retry_after or 0) <= 30
    assert script.hits("/api/threads") == 1  # the second never left
    assert await requester.get_json("orders", operation="OR11") == []
    assert requester.sent == {"M11 GET /api/threads": 1, "OR11 GET /api/orders": 1}
    # Without holds declared, the next call goes.
    plain = keyed(base, http)
    with pytest.raises(KitUnavailable):
        await plain.get_json("threads", operation="M11")
    assert script.hits("/api/threads") == 2


async def test_reads_are_retried_and_a_send_in_doubt_is_never_repeated(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/threads"] = [Reply(503), Reply(body={"ok": True})]
    requester = keyed(base, http)
    assert await requester.get_json("threads") == {"ok": True}
    assert script.hits("/api/threads") == 2
    assert script.seen[-1][2]["authorization"] == KEY

    script.replies["/api/messages"] = [Reply(body={"id": 1}, delay=1.5)]
    with pytest.raises(KitOutcomeUnknown):
        await requester.request("POST", "messages", body={"body": "hello"}, idempotent=False)
    script.replies["/api/messages"] = [Reply(502)]
    with pytest.raises(KitOutcomeUnknown):
        await requester.post_multipart("messages", [("body", (None, b"hello", None))])
    assert script.hits("/api/messages") == 2  # each sent once


async def test_a_download_is_its_bytes_refused_past_its_own_cap_and_unavailable_when_missing(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/files/1"] = [Reply(body=b"%PDF-1.4 x")]
    requester = keyed(base, http)
    assert await requester.download("files/1", 100, operation="M13") == b"%PDF-1.4 x"
    with pytest.raises(FileTooLarge):
        await requester.download("files/1", 5)
    with pytest.raises(FileUnavailable):
        await requester.download("files/2", 100)


async def test_a_shops_retry_wait_setting_spaces_its_failing_calls_tries(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/threads"] = [Reply(503)]
    # What the session of a shop whose <PREFIX>_CALL_RETRY_WAIT_SECONDS is 0.05 is opened
    # with: its four tries fit a 3 s deadline, where the default waits (0.5 s, 1 s, 2 s,
    # each with up to 1 s of jitter) would have it cut at the deadline after two or three.
    api = Shop.from_environment({"SHOP_CALL_RETRY_WAIT_SECONDS": "0.05"}).shop_api("SHOP")
    assert api is not None
    options = {**shop_options(api), "call_deadline": 3.0}
    auth = HeaderAuth({"Authorization": KEY}, secrets=(KEY,))
    requester = Requester(spec(), auth, http, base, **options)
    with pytest.raises(KitUnavailable, match="failed 4 times"):
        await requester.get_json("threads")
    assert script.hits("/api/threads") == 4


async def test_answers_that_are_not_the_apis_are_refused_with_what_came(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    login = "https://login.invalid/sso?session=abc"
    script.replies["/api/threads"] = [Reply(302, {}, {"location": login})]
    requester = keyed(base, http, misaddressed="check the base URL")
    with pytest.raises(KitUnreadable) as moved:
        await requester.get_json("threads")
    assert "HTTP 302 redirect to another host (login.invalid): check the base URL" in str(
        moved.value
    )
    assert "session" not in str(moved.value)
    script.replies["/api/threads"] = [Reply(body=b"<html>Login</html>")]
    with pytest.raises(KitUnreadable, match="an HTML page where JSON was expected"):
        await requester.get_json("threads")
    for outside in ("../admin", "https://elsewhere.invalid/x", "a/../../b"):
        with pytest.raises(ValueError):
            await requester.get_json(outside)


async def test_a_listing_follows_next_links_under_the_api_only(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    elsewhere = '<https://evil.invalid/api/orders?page=2>; rel="next"'
    script.replies["/api/orders"] = [
        Reply(body={"items": [1, 2]}, headers={"link": elsewhere}),
        Reply(body={"items": [3]}),
        Reply(body={"items": [1]}, headers={"link": '</admin/dump>; rel="next"'}),
        Reply(body=[1, 2, 3]),
    ]
    requester = keyed(base, http)
    items, cursor = await requester.get_page("orders", {"pageSize": "2"})
    assert items == [1, 2] and cursor == "orders?page=2"  # the path only: the host dropped
    items, cursor = await requester.get_page("orders", cursor=cursor)
    assert items == [3] and cursor is None
    assert script.seen[-1][2]["host"].startswith("127.0.0.1")
    with pytest.raises(KitUnreadable, match="not under the API"):
        await requester.get_page("orders")
    with pytest.raises(KitUnreadable, match="3 items listed, 2 asked"):
        await requester.get_page("orders", {"pageSize": "2"})
    with pytest.raises(ValueError):
        await requester.get_page("orders", cursor="https://evil.invalid/x")


async def test_a_file_needing_the_token_is_fetched_with_it_renewed_once_from_declared_hosts(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/token"] = [token("stale"), token("fresh"), token("third")]
    script.replies["/api/files/7"] = [Reply(401, {}), Reply(body=b"%PDF-1.7")]
    files = FileLinks([base], inside_allowed=True)
    tokens = ClientCredentials(base + "token", "client", SECRET)
    requester = Requester(spec(authorized_files=True), tokens, http, base, files=files, **FAST)
    assert await requester.get_bytes("files/7", 1_000) == b"%PDF-1.7"
    asked = [h["authorization"] for _, p, h in script.seen if p == "/api/files/7"]
    assert asked == ["Bearer stale", "Bearer fresh"]
    script.replies["/api/files/8"] = [Reply(401, {})]
    with pytest.raises(KitCredentialsRefused, match="a token just granted was refused"):
        await requester.get_bytes("files/8", 1_000)
    assert script.hits("/api/files/8") == 2
    with pytest.raises(LinkRefused):
        await requester.get_bytes("https://elsewhere.invalid/files/9", 1_000)


async def test_the_daily_allowance_is_counted_and_a_call_past_its_limit_is_never_sent(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/folders"] = [Reply(body={"items": []})]
    script.replies["/api/orders"] = [Reply(body={"ok": 1})]
    requester = keyed(base, http, allowance_call="GET folders")
    await requester.get_json("folders")
    await requester.get_json("orders")  # not a call of the allowance
    assert requester.allowance_calls() == 1

    requester.limit_allowance_calls(2)
    await requester.get_json("folders")
    with pytest.raises(AllowanceSpent, match="2 calls allowed"):
        await requester.get_json("folders")
    assert script.hits("/api/folders") == 2 and requester.allowance_calls() == 2
    assert await requester.get_json("orders") == {"ok": 1}  # other calls still go
    requester.limit_allowance_calls(None)
    await requester.get_json("folders")
    assert script.hits("/api/folders") == 3


class KitOwnError(Exception):
    """A marketplace's own error for a refusal: its code kept."""

    def __init__(self, call: str, status: int, code: str) -> None:
        super().__init__(f"{call}: {status} {code}")
        self.call, self.status, self.code = call, status, code


def own_error(call: str, status: int, document: Any) -> Exception:
    return KitOwnError(call, status, document.get("code", "") if document else "")


def said_expired(response: httpx.Response, document: Any) -> bool:
    return response.status_code == 403 and bool(document) and document.get("code") == "Expired"


@dataclass
class Recorded:
    """A pace that records what it was asked: the calls waited for, the answers' statuses."""

    asked: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def before(self, call: str) -> None:
        self.asked.append(call)

    def after(self, call: str, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)


class Item(msgspec.Struct):
    id: int


async def test_a_kept_token_said_expired_is_renewed_once_with_own_errors_pace_and_shape(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    kept, dropped = ["t1", "t2", "t3", "t4"], []

    async def fetch() -> str:
        return kept[0]

    def drop() -> None:
        dropped.append(kept.pop(0))

    recorded = Recorded()
    refusals = Refusals(credentials=frozenset(), expired=said_expired, error=own_error)
    requester = Requester(
        dataclasses.replace(spec(), refusals=refusals),
        HeaderAuth.LoginToken(fetch, str, carry=lambda token: {"X-Token": token}, drop=drop),
        http,
        base,
        pace=recorded,
        **FAST,
    )
    # Said expired: dropped where it is kept, the next one sent; an answer in another
    # shape is asked again.
    script.replies["/api/items/1"] = [
        Reply(403, {"code": "Expired"}),
        Reply(body={"id": "one"}),
        Reply(body={"id": 1}),
    ]
    assert await requester.request("GET", "items/1", name="getItem", shape=Item) == Item(1)
    assert dropped == ["t1"]
    assert [h["x-token"] for _, _, h in script.seen] == ["t1", "t2", "t2"]
    assert recorded.asked == ["getItem"] * 3 and recorded.statuses == [403, 200, 200]

    # Any other refusal is the marketplace's own error, its code kept, the token kept.
    script.replies["/api/items/2"] = [Reply(404, {"code": "NotFound"})]
    with pytest.raises(KitOwnError) as missing:
        await requester.request("GET", "items/2", name="getItem", shape=Item)
    assert (missing.value.call, missing.value.status, missing.value.code) == (
        "getItem",
        404,
        "NotFound",
    )
    # Said expired again once renewed: the marketplace's error, one renewal only.
    script.replies["/api/items/3"] = [Reply(403, {"code": "Expired"})]
    with pytest.raises(KitOwnError) as expired:
        await requester.request("GET", "items/3", name="getItem")
    assert expired.value.code == "Expired" and dropped == ["t1", "t2"]
    assert script.hits("/api/items/3") == 2


async def test_a_refresh_token_grant_with_basic_client_authentication(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    """A seller's refresh token traded for a token of the endpoint's own type, the app as
    HTTP Basic; refused, it is the credentials refused, quoted nowhere."""
    base, script = server
    refresh = "v^1.1#r^refresh-of-the-seller"
    grant = {"grant_type": "refresh_token", "refresh_token": refresh, "scope": "s"}
    tokens = ClientCredentials(
        base + "token", "app", SECRET, grant=grant, basic=True, token_type="User Access Token"
    )
    requester = Requester(spec(), tokens, http, base, **FAST)
    user = {"access_token": "user-token", "expires_in": 7200, "token_type": "User Access Token"}
    script.replies["/api/token"] = [Reply(body=user)]
    script.replies["/api/orders"] = [Reply(body={"ok": 1})]
    assert await requester.get_json("orders") == {"ok": 1}
    [asked] = [h for m, p, h in script.seen if p == "/api/token"]
    assert asked["authorization"] == "Basic " + base64.b64encode(f"app:{SECRET}".encode()).decode()
    assert script.seen[-1][2]["authorization"] == "Bearer user-token"

    revoked = {"error": "invalid_grant", "error_description": f"{refresh} is revoked"}
    script.replies["/api/token"] = [Reply(400, revoked)]
    script.replies["/api/orders"] = [Reply(401, {"detail": "expired"})]
    with pytest.raises(KitCredentialsRefused) as refused:
        await requester.get_json("orders")
    assert refresh not in str(refused.value) and SECRET not in str(refused.value)


def test_client_credentials_show_their_endpoint_never_their_secrets() -> None:
    """A token source printed (a log line, a traceback's locals) names its endpoint and
    the redaction mark, never the client's secret nor a seller's refresh token."""
    grant = {"grant_type": "refresh_token", "refresh_token": "v^1.1#r^refresh-of-the-seller"}
    tokens = ClientCredentials("https://api.example/token", "app", SECRET, grant=grant)
    shown = repr(tokens)
    assert "https://api.example/token" in shown and REDACTED in shown
    assert SECRET not in shown and "refresh-of-the-seller" not in shown
