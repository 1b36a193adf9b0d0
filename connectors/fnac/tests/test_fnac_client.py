"""FnacClient over HTTP against the sandbox's Fnac/Darty double (a real server, its own
process): authentication and token renewal, paging, retries on 5xx, 429 and timeouts,
ERR_ codes, malformed answers, bounded bodies, and a reply never sent twice."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fnac_connector_helpers import credentials_of, read, read_order, set_faults, shop
from keybuzz_connector_fnac.client import FnacClient, read_message
from keybuzz_connector_fnac.models import (
    ByCreation,
    FnacCredentialsRefused,
    FnacProtocolError,
    FnacRequestRefused,
    MessagesQuery,
    MessageUpdate,
    OrdersQuery,
)
from keybuzz_shared.connectors.seam import (
    CallOutcomeUnknown,
    CallUnavailable,
    CredentialsRefused,
    MarketplaceUnavailable,
)
from keybuzz_shared.errors import DependencyUnavailable

FAST = {"initial_backoff": 0.01, "max_backoff": 0.05}


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as client:
        await client.delete("/_sandbox/fnac/faults")
        await client.post("/_sandbox/fnac/ratelimits/reset")
        yield client
        await client.delete("/_sandbox/fnac/faults")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def demo(sandbox_url: str) -> dict[str, Any]:
    return shop(sandbox_url, "FNAC", "Démo")


@pytest.fixture
def client_for(sandbox_url: str, http: httpx.AsyncClient) -> Callable[..., FnacClient]:
    def make(entry: dict[str, Any], **options: Any) -> FnacClient:
        return FnacClient(
            http, f"{sandbox_url}/fnac/api.php/", credentials_of(entry), **{**FAST, **options}
        )

    return make


async def a_message_id(client: FnacClient) -> tuple[str, str]:
    """(message id, order id) of a buyer's message of the shop."""
    page = await client.listed(MessagesQuery(from_types=("CLIENT",), message_type="ORDER"))
    messages = read(page, read_message)
    assert messages, "the demo shop has buyers' messages"
    return messages[0].message_id, messages[0].thread.id


# --- authentication -------------------------------------------------------------------------


async def test_authenticate_keeps_a_token_and_calls_carry_it(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    token = await client.authenticate()
    assert (
        client.tokens.granted is not None and len(token.token) == 36 and token.validity is not None
    )
    page = await client.listed(OrdersQuery(results_count=5))
    orders = read(page, read_order)
    assert orders and all(o.shop_id == demo["shop_id"] for o in orders)


async def test_a_wrong_key_is_credentials_refused_and_never_shown(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    wrong = {**demo, "key": "not-the-key-0123456789"}
    with pytest.raises(FnacCredentialsRefused) as refused:
        await client_for(wrong).listed(OrdersQuery())
    assert refused.value.codes == ("ERR_001",)
    assert isinstance(refused.value, CredentialsRefused)
    assert wrong["key"] not in str(refused.value) and demo["key"] not in str(refused.value)
    assert demo["key"] not in repr(credentials_of(demo))


async def test_an_expired_token_is_renewed_once_and_the_call_repeated(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    first = await client.authenticate()
    expired = await admin.post(f"/_sandbox/fnac/shops/{demo['shop_id']}/expire-tokens")
    assert expired.json()["expired"] >= 1
    page = await client.listed(OrdersQuery(results_count=1))
    assert page.items
    assert client.tokens.granted is not None
    assert client.tokens.granted.token != first.token


async def test_a_revoked_key_is_credentials_refused_at_renewal(
    sandbox_url: str, admin: httpx.AsyncClient, client_for: Callable[..., FnacClient]
) -> None:
    entry = shop(sandbox_url, "FNAC", "Librairie")
    client = client_for(entry)
    await client.authenticate()
    rotated = await admin.post(f"/_sandbox/fnac/shops/{entry['shop_id']}/rotate-key")
    assert rotated.status_code == 200
    with pytest.raises(FnacCredentialsRefused, match="ERR_001"):
        await client.listed(OrdersQuery(results_count=1))


# --- paging and filters ---------------------------------------------------------------------


async def test_pages_of_messages_add_up_to_the_whole_list(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)

    async def listed(size: int) -> tuple[list[str], int, int]:
        """Every message id, in pages of ``size``: (ids, the total Fnac gives, pages read)."""
        seen: list[str] = []
        page_number = 1
        while True:
            page = await client.listed(
                MessagesQuery(page=page_number, results_count=size, sort=ByCreation("ASC"))
            )
            seen += [m.message_id for m in read(page, read_message)]
            if not page.paging.has_next:
                return seen, page.paging.nb_total_result or 0, page_number
            page_number += 1

    # Other tests of the session write to the demo shop: its size is read, not assumed.
    whole, total, _ = await listed(100)
    assert total >= 3 and len(whole) == total
    size = max(2, total // 15)  # many pages, within the double's burst of calls
    seen, _, pages = await listed(size)
    assert pages == -(-total // size) and pages > 1
    assert seen == whole


async def test_filters_reach_the_server(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    buyers = read(await client.listed(MessagesQuery(from_types=("CLIENT",))), read_message)
    assert buyers and {m.sender_type for m in buyers} == {"BUYER"}
    order_id = buyers[0].thread.id
    of_order = await client.listed(MessagesQuery(order_ids=(order_id,)))
    assert {m.thread.id for m in read(of_order, read_message)} == {order_id}
    orders = await client.listed(OrdersQuery(order_ids=(order_id,)))
    assert [o.order_id for o in read(orders, read_order)] == [order_id]


# --- refusals with ERR_ codes ---------------------------------------------------------------


async def test_an_error_status_is_request_refused_with_its_codes(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    with pytest.raises(FnacRequestRefused) as refused:
        await client_for(demo).listed(OrdersQuery(results_count=101))
    assert refused.value.codes == ("ERR_105",) and refused.value.status == "FATAL"


async def test_a_refused_message_update_is_a_result_not_an_exception(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    message_id, _ = await a_message_id(client)
    results = await client.messages_update(
        [
            MessageUpdate(message_id=message_id, action="mark_as_read"),
            MessageUpdate(message_id="00000000-0000-0000-0000-000000000000", action="mark_as_read"),
        ]
    )
    assert [(r.message_id, r.ok) for r in results] == [
        (message_id, True),
        ("00000000-0000-0000-0000-000000000000", False),
    ]
    assert [e.code for e in results[1].errors] == ["ERR_201"]


async def test_a_reply_reaches_the_buyer_once(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    message_id, order_id = await a_message_id(client)
    text = "Bonjour, votre colis part aujourd'hui. <Merci> & à bientôt"
    (result,) = await client.messages_update(
        [
            MessageUpdate(
                message_id=message_id,
                action="reply",
                to="CLIENT",
                subject="shipping_information",
                text=text,
                message_type="ORDER",
            )
        ]
    )
    assert result.ok
    sent = (await admin.get(f"/_sandbox/fnac/shops/{demo['shop_id']}/sent")).json()["sent"]
    assert [s for s in sent if text in str(s)], sent


# --- outages, throttling, timeouts ----------------------------------------------------------


async def test_5xx_is_retried_then_succeeds(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, failNext=2, failStatus=502, operations=["orders_query"])
    page = await client.listed(OrdersQuery(results_count=1))
    assert page.items
    assert (await admin.get("/_sandbox/fnac/faults")).json()["failNext"] == 0


async def test_5xx_until_the_retries_run_out_is_unavailable(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo, attempts=3)
    await client.authenticate()
    await set_faults(admin, failNext=10, failStatus=500, operations=["orders_query"])
    with pytest.raises(CallUnavailable, match="failed 3 times; last: HTTP 500") as down:
        await client.listed(OrdersQuery())
    assert isinstance(down.value, MarketplaceUnavailable | DependencyUnavailable)
    assert (await admin.get("/_sandbox/fnac/faults")).json()["failNext"] == 7


async def test_429_waits_what_retry_after_says(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, failNext=1, failStatus=429, operations=["orders_query"])
    started = asyncio.get_running_loop().time()
    assert (await client.listed(OrdersQuery(results_count=1))).items
    assert asyncio.get_running_loop().time() - started >= 1.0  # Retry-After: 1 (at least)


async def test_a_retry_after_longer_than_we_wait_is_unavailable_at_once(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo, max_retry_after=0.5)
    await client.authenticate()
    await set_faults(admin, failNext=3, failStatus=429, operations=["orders_query"])
    with pytest.raises(CallUnavailable) as throttled:
        await client.listed(OrdersQuery())
    assert throttled.value.retry_after is not None and throttled.value.retry_after >= 1
    assert (await admin.get("/_sandbox/fnac/faults")).json()["failNext"] == 2


async def test_a_retry_after_given_as_an_http_date_is_read_as_one(demo: dict[str, Any]) -> None:
    """A 429 whose Retry-After is an HTTP date 30 s ahead: a wait longer than the client
    takes within a call, so unavailable at once, saying how long to wait."""
    asked = [0]

    async def throttle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked[0] += 1
        await reader.readuntil(b"\r\n\r\n")
        when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        writer.write(
            f"HTTP/1.1 429 Too Many\r\nRetry-After: {when}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(throttle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, httpx.AsyncClient(timeout=10) as http:
        client = FnacClient(http, url, credentials_of(demo), **{**FAST, "max_retry_after": 5.0})
        with pytest.raises(CallUnavailable) as throttled:
            await client.authenticate()
    assert throttled.value.retry_after is not None and 25 <= throttled.value.retry_after <= 30
    assert asked == [1]


async def test_timeouts_are_retried_then_unavailable(
    sandbox_url: str, admin: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(timeout=0.2) as http:
        client = FnacClient(
            http, f"{sandbox_url}/fnac/api.php/", credentials_of(demo), attempts=2, **FAST
        )
        await client.authenticate()
        await set_faults(admin, latencyMs=1000, operations=["orders_query"])
        with pytest.raises(CallUnavailable, match="ReadTimeout"):
            await client.listed(OrdersQuery())


async def test_a_reply_whose_answer_is_lost_is_never_sent_again(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    message_id, _ = await a_message_id(client)
    await set_faults(admin, failNext=2, failStatus=503, operations=["messages_update"])
    reply = MessageUpdate(
        message_id=message_id,
        action="reply",
        to="CLIENT",
        subject="order_information",
        text="Bonjour",
        message_type="ORDER",
    )
    with pytest.raises(CallOutcomeUnknown):
        await client.messages_update([reply])
    assert (await admin.get("/_sandbox/fnac/faults")).json()["failNext"] == 1  # one request
    # Marking as read is safe to repeat: retried through the same fault.
    (marked,) = await client.messages_update(
        [MessageUpdate(message_id=message_id, action="mark_as_read")]
    )
    assert marked.ok


async def test_an_unreachable_server_is_unavailable(demo: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        client = FnacClient(
            http, "http://127.0.0.1:9/fnac/api.php/", credentials_of(demo), attempts=2, **FAST
        )
        with pytest.raises(CallUnavailable, match="ConnectError"):
            await client.authenticate()


# --- malformed and oversize answers ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["truncated", "empty"])
async def test_a_garbled_answer_is_retried(
    kind: str, admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, malformedNext=1, malformedKind=kind, operations=["orders_query"])
    assert (await client.listed(OrdersQuery(results_count=1))).items


async def test_an_answer_garbled_every_time_is_a_protocol_error(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo, attempts=2)
    await client.authenticate()
    await set_faults(admin, malformedNext=5, malformedKind="truncated", operations=["orders_query"])
    with pytest.raises(FnacProtocolError, match="not well-formed"):
        await client.listed(OrdersQuery())


@pytest.mark.parametrize(("kind", "reason"), [("entities", "DTD"), ("schema", "unknown status")])
async def test_a_hostile_or_foreign_answer_is_refused_at_once(
    kind: str,
    reason: str,
    admin: httpx.AsyncClient,
    demo: dict[str, Any],
    client_for: Callable[..., FnacClient],
) -> None:
    client = client_for(demo)
    await client.authenticate()
    await set_faults(admin, malformedNext=3, malformedKind=kind, operations=["orders_query"])
    with pytest.raises(FnacProtocolError, match=reason):
        await client.listed(OrdersQuery())
    assert (await admin.get("/_sandbox/fnac/faults")).json()["malformedNext"] == 2


async def test_a_body_over_the_limit_is_a_protocol_error(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    client = client_for(demo, max_response_bytes=4_000)
    await client.authenticate()
    with pytest.raises(FnacProtocolError, match="larger than 4000 bytes"):
        await client.listed(OrdersQuery(results_count=50))


@contextlib.asynccontextmanager
async def echoing_server() -> AsyncIterator[str]:
    """A raw HTTP server refusing every call with an error text that echoes the request."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        request = (await reader.readexactly(length)).decode()
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="FATAL">'
            f'<error severity="FATAL" code="ERR_001"><![CDATA[refused: {request}]]></error>'
            "</auth_response>"
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def test_an_error_text_echoing_the_key_is_scrubbed(demo: dict[str, Any]) -> None:
    async with echoing_server() as url, httpx.AsyncClient(timeout=10) as http:
        client = FnacClient(http, url, credentials_of(demo), **FAST)
        with pytest.raises(FnacCredentialsRefused) as refused:
            await client.authenticate()
    said = str(refused.value)
    assert "ERR_001: refused: <?xml" in said and "<shop_id>…</shop_id>" in said  # a UUID: masked
    assert demo["key"] not in said and demo["shop_id"] not in said and "[REDACTED]" in said
    assert all(demo["key"] not in e.text for e in refused.value.errors)


@contextlib.asynccontextmanager
async def endless_server(declare_length: bool) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP server answering 200 with a 100 MB body (declared, or chunked without
    end); yields its URL and how many body bytes it managed to send."""
    sent = [0]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
        head += (
            "Content-Length: 104857600\r\n" if declare_length else "Transfer-Encoding: chunked\r\n"
        )
        writer.write(head.encode() + b"\r\n")
        chunk = b"<a>" + b"x" * 65_536
        try:
            while sent[0] < 104_857_600:
                writer.write(chunk if declare_length else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent[0] += len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/", sent


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_a_100_mb_answer_is_refused_without_reading_it_all(
    declare_length: bool, demo: dict[str, Any]
) -> None:
    async with endless_server(declare_length) as (url, sent), httpx.AsyncClient(timeout=10) as http:
        client = FnacClient(http, url, credentials_of(demo), max_response_bytes=1_000_000, **FAST)
        with pytest.raises(FnacProtocolError, match="larger than 1000000 bytes"):
            await client.authenticate()
        await asyncio.sleep(0.1)
    assert sent[0] < 20_000_000


async def test_more_than_fifty_order_ids_are_refused_before_sending(
    admin: httpx.AsyncClient, demo: dict[str, Any], client_for: Callable[..., FnacClient]
) -> None:
    ids = tuple(f"{n:013d}" for n in range(51))
    with pytest.raises(ValueError, match="at most 50"):
        await client_for(demo).listed(OrdersQuery(order_ids=ids))


@contextlib.asynccontextmanager
async def page_tampering_proxy(
    sandbox_url: str, asked: int, listed: int, padding: int = 0
) -> AsyncIterator[str]:
    """A raw HTTP server in front of the double, as a Fnac that ignores the page size:
    a messages_query asking ``asked`` results is sent on asking ``listed``, and its answer
    comes back with ``padding`` bytes of blank space after the document."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line, *fields = head.decode().split("\r\n")
        length = next(
            int(f.split(":")[1]) for f in fields if f.lower().startswith("content-length")
        )
        body = await reader.readexactly(length)
        path = line.split(" ")[1]
        tail = b""
        if path.endswith("/messages_query"):
            body = body.replace(b'results_count="%d"' % asked, b'results_count="%d"' % listed)
            tail = b" " * padding
        async with httpx.AsyncClient(timeout=10) as forward:
            got = await forward.post(
                f"{sandbox_url}{path}", content=body, headers={"Content-Type": "text/xml"}
            )
        content = got.content + tail
        writer.write(
            b"HTTP/1.1 %d OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (got.status_code, len(content), content)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_page_listing_more_messages_than_asked_is_refused(
    sandbox_url: str, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    query = MessagesQuery(results_count=2)
    async with (
        page_tampering_proxy(sandbox_url, asked=2, listed=5) as url,
        httpx.AsyncClient(timeout=10) as http,
    ):
        client = FnacClient(http, f"{url}/fnac/api.php/", credentials_of(demo), **FAST)
        with pytest.raises(FnacProtocolError, match="5 messages listed, 2 asked"):
            await client.listed(query)
    assert any("more messages than asked" in r.getMessage() for r in caplog.records)
    async with page_tampering_proxy(sandbox_url, asked=2, listed=2) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            client = FnacClient(http, f"{url}/fnac/api.php/", credentials_of(demo), **FAST)
            assert len((await client.listed(query)).items) == 2  # as asked: taken


async def test_a_page_answer_is_bounded_by_the_page_asked(
    sandbox_url: str, demo: dict[str, Any]
) -> None:
    # A one-message page may be 128 KiB (its ITEM_BYTES + ENVELOPE_BYTES), not the
    # client's 16 MiB: 300 KB is refused, though far below the client's cap.
    async with (
        page_tampering_proxy(sandbox_url, asked=1, listed=1, padding=300_000) as url,
        httpx.AsyncClient(timeout=10) as http,
    ):
        client = FnacClient(http, f"{url}/fnac/api.php/", credentials_of(demo), **FAST)
        with pytest.raises(FnacProtocolError, match="larger than 131072 bytes"):
            await client.listed(MessagesQuery(results_count=1))
        assert (await client.listed(OrdersQuery(results_count=1))).items is not None
