"""OctopiaClient over HTTP against the sandbox's Octopia double (a real server, its own
process) and raw HTTP servers playing a broken Octopia: the token kept and renewed once,
throttling with and without Retry-After, 5xx and timeouts, a stalled or trickling answer
cut at the call's deadline, hostile answers refused unharmed, and a revoked secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    CredentialsRefused,
    MarketplaceUnavailable,
    OutcomeUnknown,
)

FAST: dict[str, Any] = {"initial_backoff": 0.01, "max_backoff": 0.05}
ADMIN = "/_sandbox/cdiscount"


def shop(sandbox_url: str, name: str) -> dict[str, Any]:
    shops = httpx.get(f"{sandbox_url}{ADMIN}/shops", timeout=30).json()
    return next(s for s in shops if name in s["name"])


def credentials_of(entry: dict[str, Any], **changed: str) -> OctopiaCredentials:
    fields = {
        "client_id": entry["clientId"],
        "client_secret": entry["clientSecret"],
        "seller_id": entry["sellerId"],
    }
    return OctopiaCredentials(**{**fields, **changed})


async def set_faults(admin: httpx.AsyncClient, **faults: Any) -> None:
    response = await admin.put(f"{ADMIN}/faults", json=faults)
    assert response.status_code == 200, response.text


async def faults_left(admin: httpx.AsyncClient, name: str = "failNext") -> int:
    return int((await admin.get(f"{ADMIN}/faults")).json()[name])


async def token_requests(admin: httpx.AsyncClient, seller_id: str) -> int:
    answer = await admin.get(f"{ADMIN}/shops/{seller_id}/token-requests")
    return int(answer.json()["tokenRequests"])


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as client:
        await client.delete(f"{ADMIN}/faults")
        await client.post(f"{ADMIN}/ratelimits/reset")
        yield client
        await client.delete(f"{ADMIN}/faults")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def demo(sandbox_url: str) -> dict[str, Any]:
    return shop(sandbox_url, "Démo")


def urls(sandbox_url: str) -> tuple[str, str]:
    return (
        f"{sandbox_url}/octopia/seller/v2/",
        f"{sandbox_url}/octopia/auth/realms/maas/protocol/openid-connect/token",
    )


@pytest.fixture
def client_for(sandbox_url: str, http: httpx.AsyncClient) -> Callable[..., OctopiaClient]:
    def make(entry: dict[str, Any], **options: Any) -> OctopiaClient:
        api_url, auth_url = urls(sandbox_url)
        credentials = options.pop("credentials", None) or credentials_of(entry)
        return OctopiaClient(credentials, http, api_url, auth_url, **{**FAST, **options})

    return make


ORDERS = ("/orders", {"pageSize": "2"})


# --- the token --------------------------------------------------------------------------


async def test_one_token_serves_many_calls_and_each_carries_it(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    before = await token_requests(admin, demo["sellerId"])
    for _ in range(3):
        items, _ = await client.get_page(*ORDERS)
        assert len(items) == 2
    await asyncio.gather(*(client.get_json("/typologies") for _ in range(4)))
    assert await token_requests(admin, demo["sellerId"]) == before + 1


async def test_an_expired_token_is_renewed_once_for_calls_refused_together(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    await client.get_json("/typologies")
    before = await token_requests(admin, demo["sellerId"])
    expired = await admin.post(f"{ADMIN}/shops/{demo['sellerId']}/expire-tokens")
    assert expired.json()["expired"] >= 1
    answers = await asyncio.gather(*(client.get_page(*ORDERS) for _ in range(3)))
    assert all(len(items) == 2 for items, _ in answers)
    assert await token_requests(admin, demo["sellerId"]) == before + 1


async def test_a_wrong_secret_is_credentials_refused_and_never_shown(
    admin: httpx.AsyncClient,
    demo: dict[str, Any],
    client_for: Callable[..., OctopiaClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = credentials_of(demo, client_secret="not-the-secret-0123456789abcdef")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsRefused) as refused:
        await client_for(demo, credentials=wrong).get_json("/typologies")
    assert isinstance(refused.value, CredentialsRefused)
    assert "invalid_client" in str(refused.value) or "Invalid client" in str(refused.value)
    for secret in (wrong.client_secret, demo["clientSecret"]):
        assert secret not in str(refused.value) and secret not in caplog.text
        assert secret not in repr(wrong) and secret not in repr(credentials_of(demo))


async def test_a_seller_id_not_the_clients_is_credentials_refused(
    sandbox_url: str, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    other = shop(sandbox_url, "Maison")["sellerId"]
    client = client_for(demo, credentials=credentials_of(demo, seller_id=other))
    with pytest.raises(CredentialsRefused, match="no access to seller"):
        await client.get_json("/typologies")


async def test_a_revoked_secret_is_credentials_refused_at_renewal(
    sandbox_url: str,
    admin: httpx.AsyncClient,
    client_for: Callable[..., OctopiaClient],
) -> None:
    entry = shop(sandbox_url, "Bench")
    client = client_for(entry)
    await client.get_json("/typologies")
    before = await token_requests(admin, entry["sellerId"])
    rotated = await admin.post(f"{ADMIN}/shops/{entry['sellerId']}/rotate-secret")
    assert rotated.status_code == 200
    with pytest.raises(CredentialsRefused, match="invalid_client|Invalid client"):
        await client.get_json("/typologies")
    # One renewal tried, not a loop of them.
    assert await token_requests(admin, entry["sellerId"]) == before + 1


# --- paging -----------------------------------------------------------------------------


async def test_pages_follow_the_link_and_add_up_to_the_whole_list(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    query = {"sort": "createdAt:asc", "pageSize": "100"}
    whole, more = await client.get_page("/orders", query)
    assert more is None and len(whole) > 10
    seen: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = await client.get_page("/orders", {**query, "pageSize": "7"}, cursor)
        seen += items
        pages += 1
        if cursor is None:
            break
        assert "://" not in cursor
    assert [o["orderId"] for o in seen] == [o["orderId"] for o in whole]
    assert pages == -(-len(whole) // 7)


async def test_a_cursor_not_handed_out_is_refused_before_any_call(
    demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    for cursor in ("http://elsewhere.example/x", "/octopia/seller/v2/orders", "../x", ""):
        with pytest.raises(ValueError, match="not a cursor"):
            await client.get_page("/orders", None, cursor)
    assert not client.sent  # not even a token asked for


async def test_a_refused_call_says_octopias_reason(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    with pytest.raises(CallRefused) as refused:
        await client_for(demo).get_page("/orders", {"pageSize": "101"})
    assert refused.value.status == 400
    assert "pageSize must be an integer between 1 and 100" in refused.value.detail
    with pytest.raises(CallRefused) as missing:
        await client_for(demo).get_json("/orders/000000000000")
    assert missing.value.status == 404


# --- throttling, outages, timeouts ------------------------------------------------------


async def test_429_with_retry_after_waits_what_it_says(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(
        admin, failNext=1, failStatus=429, retryAfterSeconds=1, operations=["getOrders"]
    )
    started = asyncio.get_running_loop().time()
    items, _ = await client.get_page(*ORDERS)
    assert items and asyncio.get_running_loop().time() - started >= 1.0
    assert await faults_left(admin) == 0


async def test_429_without_retry_after_backs_off_and_retries(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo, attempts=3)
    await client.authenticate()
    await set_faults(admin, failNext=2, failStatus=429, operations=["getOrders"])
    items, _ = await client.get_page(*ORDERS)
    assert items and await faults_left(admin) == 0
    await set_faults(admin, failNext=5, failStatus=429, operations=["getOrders"])
    with pytest.raises(CallUnavailable, match="failed 3 times; last: HTTP 429") as throttled:
        await client.get_page(*ORDERS)
    assert throttled.value.retry_after is None and await faults_left(admin) == 2


async def test_a_retry_after_longer_than_we_wait_is_unavailable_at_once(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo, max_retry_after=0.5)
    await client.authenticate()
    await set_faults(
        admin, failNext=3, failStatus=429, retryAfterSeconds=30, operations=["getOrders"]
    )
    with pytest.raises(CallUnavailable) as throttled:
        await client.get_page(*ORDERS)
    assert isinstance(throttled.value, MarketplaceUnavailable)
    assert throttled.value.retry_after == 30 and await faults_left(admin) == 2


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_retried_then_unavailable(
    status: int,
    admin: httpx.AsyncClient,
    demo: dict[str, Any],
    client_for: Callable[..., OctopiaClient],
) -> None:
    client = client_for(demo, attempts=3)
    await client.authenticate()
    await set_faults(admin, failNext=2, failStatus=status, operations=["getOrders"])
    assert (await client.get_page(*ORDERS))[0]
    await set_faults(admin, failNext=10, failStatus=status, operations=["getOrders"])
    with pytest.raises(CallUnavailable, match=f"failed 3 times; last: HTTP {status}"):
        await client.get_page(*ORDERS)
    assert await faults_left(admin) == 7


async def test_a_token_endpoint_down_is_unavailable_not_refused(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    await set_faults(admin, failNext=10, failStatus=503, operations=["token"])
    with pytest.raises(CallUnavailable, match="token unavailable"):
        await client_for(demo, attempts=2).get_json("/typologies")


async def test_timeouts_are_retried_then_unavailable(
    sandbox_url: str, admin: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(timeout=0.3) as http:
        client = OctopiaClient(credentials_of(demo), http, *urls(sandbox_url), attempts=2, **FAST)
        await client.authenticate()
        await set_faults(admin, latencyMs=1500, operations=["getOrders"])
        with pytest.raises(CallUnavailable, match="ReadTimeout"):
            await client.get_page(*ORDERS)


@pytest.mark.parametrize("slow", ["stall", "trickle"])
async def test_a_stalled_or_trickling_answer_is_cut_at_the_call_deadline(
    slow: str,
    admin: httpx.AsyncClient,
    demo: dict[str, Any],
    client_for: Callable[..., OctopiaClient],
) -> None:
    client = client_for(demo, call_deadline=1.0)
    await client.authenticate()
    seconds = 30 if slow == "stall" else 0.2  # a trickle: each byte within the read timeout
    await set_faults(
        admin,
        operations=["getOrders"],
        **{f"{slow}Seconds": seconds, f"{slow}Shops": [demo["sellerId"]]},
    )
    # Said cut at the deadline: the stalled or trickled answer would have come whole.
    with pytest.raises(CallUnavailable, match="no answer within 1 s"):
        await client.get_page(*ORDERS)


async def test_an_unreachable_api_is_unavailable(demo: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        client = OctopiaClient(
            credentials_of(demo),
            http,
            "http://127.0.0.1:9/api/",
            "http://127.0.0.1:9/token",
            attempts=2,
            **FAST,
        )
        with pytest.raises(CallUnavailable, match="ConnectError"):
            await client.get_json("/typologies")


# --- a call that sends something ---------------------------------------------------------


async def test_a_send_whose_answer_is_lost_is_never_sent_again(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, failNext=3, failStatus=503, operations=["patchMessage"])
    patch = [{"op": "replace", "path": "/hasRead", "value": True}]
    with pytest.raises(CallOutcomeUnknown) as lost:
        await client.request("PATCH", "/messages/1", body=patch, idempotent=False)
    assert isinstance(lost.value, OutcomeUnknown)
    assert await faults_left(admin) == 2  # one request, not retried
    # Declared safe to repeat: retried through the same fault.
    with pytest.raises(CallRefused, match="HTTP 404"):
        await client.request("PATCH", "/messages/1", body=patch)
    assert await faults_left(admin) == 0


async def test_a_throttled_send_is_sent_again(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, failNext=1, failStatus=429, operations=["patchMessage"])
    patch = [{"op": "replace", "path": "/hasRead", "value": True}]
    with pytest.raises(CallRefused, match="HTTP 404"):  # the answer to the 2nd try
        await client.request("PATCH", "/messages/1", body=patch, idempotent=False)
    assert await faults_left(admin) == 0


async def test_a_send_held_past_the_deadline_has_an_unknown_outcome(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo, call_deadline=1.0)
    await client.authenticate()
    await set_faults(
        admin, operations=["patchMessage"], holdSeconds=5, holdShops=[demo["sellerId"]]
    )
    patch = [{"op": "replace", "path": "/hasRead", "value": True}]
    with pytest.raises(CallOutcomeUnknown, match="no answer within 1 s"):
        await client.request("PATCH", "/messages/1", body=patch, idempotent=False)


# --- hostile and broken answers ---------------------------------------------------------


async def test_a_truncated_answer_is_retried_then_unreadable(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., OctopiaClient]
) -> None:
    client = client_for(demo, attempts=2)
    await client.authenticate()
    await set_faults(admin, malformedNext=1, malformedKind="invalid_json", operations=["getOrders"])
    assert (await client.get_page(*ORDERS))[0]
    await set_faults(admin, malformedNext=5, malformedKind="invalid_json", operations=["getOrders"])
    with pytest.raises(CallAnswerUnreadable, match="not JSON") as unreadable:
        await client.get_page(*ORDERS)
    assert isinstance(unreadable.value, AnswerUnreadable)
    assert await faults_left(admin, "malformedNext") == 3


Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """An HTTP server answering every request with ``handler(request head and body,
    writer)``: a token endpoint and an API at once."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await handler(head + await reader.readexactly(length), writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def answer(status: int, content_type: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    ).encode() + body


TOKEN = b'{"access_token": "tok-123", "expires_in": 7200, "token_type": "Bearer"}'


def fake_octopia(api_answer: bytes) -> Handler:
    async def handle(request: bytes, writer: asyncio.StreamWriter) -> None:
        is_token = request.startswith(b"POST /token")
        writer.write(answer(200, "application/json", TOKEN) if is_token else api_answer)
        await writer.drain()

    return handle


def fake_client(url: str, http: httpx.AsyncClient, **options: Any) -> OctopiaClient:
    creds = OctopiaCredentials(client_id="c", client_secret="s3cr3t-value-0123", seller_id="1")
    return OctopiaClient(creds, http, f"{url}/api/", f"{url}/token", **{**FAST, **options})


@pytest.mark.parametrize(
    ("api_answer", "reason"),
    [
        (answer(200, "text/html", b"<html><body>Login</body></html>"), "text/html"),
        (answer(200, "text/plain", b'{"items": []}'), "text/plain"),
        (answer(200, "application/json", b'{"items": [1, 2, 3]}'), "3 items listed, 2 asked"),
        (answer(200, "application/json", b'{"orders": []}'), "no list of items"),
        (
            answer(200, "application/json", b'{"items": []}', 'Link: <http://x/y>; rel="next"\r\n'),
            "not under the API",
        ),
    ],
    ids=["html", "wrong-content-type", "more-than-asked", "no-items", "link-elsewhere"],
)
async def test_an_answer_off_its_shape_is_refused_at_once(
    api_answer: bytes, reason: str, http: httpx.AsyncClient
) -> None:
    calls = [0]

    async def counted(request: bytes, writer: asyncio.StreamWriter) -> None:
        calls[0] += not request.startswith(b"POST /token")
        await fake_octopia(api_answer)(request, writer)

    async with raw_server(counted) as url:
        with pytest.raises(CallAnswerUnreadable, match=reason):
            await fake_client(url, http).get_page("/orders", {"pageSize": "2"})
    assert calls[0] == 1


async def test_a_next_link_on_another_host_stays_on_the_api(http: httpx.AsyncClient) -> None:
    seen: list[bytes] = []

    async def handle(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(request.split(b"\r\n")[0])
        link = 'Link: <https://internal.example/api/orders?pageIndex=2>; rel="next"\r\n'
        # one item: a page listing nothing ends its listing (kit/listing.py), next link or not
        page = b'[{"orderId": "1"}]'
        await fake_octopia(answer(200, "application/json", page, link))(request, writer)

    async with raw_server(handle) as url:
        client = fake_client(url, http)
        _, cursor = await client.get_page("/orders")
        assert cursor == "orders?pageIndex=2"
        await client.get_page("/orders", None, cursor)
    assert seen[-1] == b"GET /api/orders?pageIndex=2 HTTP/1.1"


async def test_an_error_text_echoing_the_secret_is_scrubbed(http: httpx.AsyncClient) -> None:
    async def echo(request: bytes, writer: asyncio.StreamWriter) -> None:
        body = request.split(b"\r\n\r\n", 1)[1].decode()
        problem = f'{{"error": "invalid_client", "error_description": "bad {body}"}}'
        writer.write(answer(401, "application/json", problem.encode()))
        await writer.drain()

    async with raw_server(echo) as url:
        with pytest.raises(CredentialsRefused) as refused:
            await fake_client(url, http).authenticate()
    assert "client_id=c" in str(refused.value) and "[REDACTED]" in str(refused.value)
    assert "s3cr3t-value-0123" not in str(refused.value)


@contextlib.asynccontextmanager
async def endless_server(declare_length: bool) -> AsyncIterator[tuple[str, list[int]]]:
    """A fake Octopia whose API answers 200 with a 100 MB JSON body (declared, or chunked
    without end); yields its URL and how many body bytes it managed to send."""
    sent = [0]

    async def handle(request: bytes, writer: asyncio.StreamWriter) -> None:
        if request.startswith(b"POST /token"):
            writer.write(answer(200, "application/json", TOKEN))
            await writer.drain()
            return
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += (
            "Content-Length: 104857600\r\n" if declare_length else "Transfer-Encoding: chunked\r\n"
        )
        start = b'{"items": ["'
        writer.write(
            head.encode() + b"\r\n" + (start if declare_length else b"c\r\n%s\r\n" % start)
        )
        chunk = b"x" * 65_536
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while sent[0] < 104_857_600:
                writer.write(chunk if declare_length else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent[0] += len(chunk)

    async with raw_server(handle) as url:
        yield url, sent


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_a_100_mb_answer_is_refused_without_reading_it_all(
    declare_length: bool, http: httpx.AsyncClient
) -> None:
    async with endless_server(declare_length) as (url, sent):
        client = fake_client(url, http, max_response_bytes=1_000_000)
        with pytest.raises(CallAnswerUnreadable, match="larger than allowed"):
            await client.get_json("/orders")
        await asyncio.sleep(0.1)
    assert sent[0] < 20_000_000


async def test_a_token_refused_even_when_new_is_credentials_refused_after_one_renewal(
    http: httpx.AsyncClient,
) -> None:
    seen = Counter[str]()

    async def refusing(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen["token" if request.startswith(b"POST /token") else "api"] += 1
        refused = answer(401, "application/problem+json", b'{"detail": "Token is invalid"}')
        await fake_octopia(refused)(request, writer)

    async with raw_server(refusing) as url:
        with pytest.raises(CredentialsRefused, match="a token just granted was refused"):
            await fake_client(url, http).get_json("/orders")
    assert seen == {"token": 2, "api": 2}


async def test_a_token_is_renewed_a_margin_before_octopias_expires_in(
    http: httpx.AsyncClient,
) -> None:
    """A token Octopia says lives 4 s is renewed from 2 s on (at most half its life
    before), not at the last second: a call at 2.5 s asks for a new one first."""
    tokens = [0]

    async def handle(request: bytes, writer: asyncio.StreamWriter) -> None:
        if request.startswith(b"POST /token"):
            tokens[0] += 1
            body = b'{"access_token": "tok-%d", "expires_in": 4, "token_type": "Bearer"}'
            writer.write(answer(200, "application/json", body % tokens[0]))
        else:
            writer.write(answer(200, "application/json", b'{"items": []}'))
        await writer.drain()

    async with raw_server(handle) as url:
        client = fake_client(url, http)
        await client.get_json("/typologies")
        await client.get_json("/typologies")
        assert tokens[0] == 1  # kept while well inside its life
        await asyncio.sleep(2.5)  # past life - margin (4 - 2), before Octopia's 4 s
        await client.get_json("/typologies")
    assert tokens[0] == 2
