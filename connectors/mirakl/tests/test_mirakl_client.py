"""The Mirakl client over HTTP against the sandbox's double: the key and shop id on every
call, requests as Mirakl's OpenAPI description has them, Retry-After obeyed (no call
inside one, counted by the double), 5xx retried, a deadline on every call, and an operator
base URL that answers HTML or redirects refused clearly — the key never in an error or a
log line."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_connector_mirakl.connector import MiraklKey, MiraklSettings
from keybuzz_connector_mirakl.threads import thread_at
from keybuzz_double_mirakl import service_env
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    CredentialsRefused,
)
from mirakl_connector_helpers import CheckedRequests, admin, operators, serve_double, shop_client

THREADS = "api/inbox/threads"


@pytest.fixture
async def double() -> AsyncIterator[str]:
    async for url in serve_double():
        yield url


@pytest.fixture
def checked() -> CheckedRequests:
    return CheckedRequests()


@pytest.fixture
async def http(checked: CheckedRequests) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [checked]}) as client:
        yield client


async def boulanger(double: str) -> tuple[str, dict[str, Any]]:
    operator = (await operators(double))["BOULANGER"]
    return operator["baseUrl"], operator["shops"][0]


async def faults(double: str, **config: Any) -> None:
    await admin(double, "PUT", "/faults", json=config)


async def test_calls_carry_the_key_and_shop_id_as_mirakls_description_has_them(
    double: str, http: httpx.AsyncClient, checked: CheckedRequests
) -> None:
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop)
    answer = await client.get_json(
        THREADS,
        {"with_messages": "true", "updated_since": "2020-01-01T00:00:00.000Z"},
        operation="M11",
    )
    thread = answer["data"][0]
    assert str(shop["shopId"]) in {p.get("id") for p in thread["authorized_participants"]}
    whole = await client.get_json(f"{THREADS}/{thread['id']}", operation="M10")
    assert whole["id"] == thread["id"]
    # A made-up parameter is not Mirakl's: the check sees it (so it checks something).
    with pytest.raises(Exception, match="unknown query parameter colour"):
        await client.get_json(f"{THREADS}/{thread['id']}", {"colour": "red"}, operation="M10")
    assert checked.seen == ["M11", "M10", "M10"]
    assert checked.problems == ["M10: unknown query parameter colour"]


async def test_a_wrong_key_is_refused_and_never_quoted(
    double: str, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base, shop = await boulanger(double)
    wrong = {**shop, "apiKey": "0" * 8 + shop["apiKey"][8:]}
    with pytest.raises(CredentialsRefused) as refused:
        await shop_client(http, base, wrong).get_json(THREADS, operation="M11")
    assert "401" in str(refused.value)
    assert all(k not in str(refused.value) for k in (wrong["apiKey"], shop["apiKey"]))
    assert all(wrong["apiKey"] not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_a_429_is_waited_out_within_the_call(double: str, http: httpx.AsyncClient) -> None:
    """M11 twice within Mirakl's minute (a second here): the second call waits the
    Retry-After the double gives, then is answered; no call came inside it."""
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop)
    await client.get_json(THREADS, operation="M11")
    started = time.monotonic()
    await client.get_json(THREADS, operation="M11")
    assert time.monotonic() - started >= 0.9
    assert (await admin(double, "GET", "/retry-after-violations"))["count"] == 0


async def test_no_call_leaves_inside_a_retry_after_longer_than_the_call_waits(
    double: str, http: httpx.AsyncClient
) -> None:
    base, shop = await boulanger(double)
    await faults(
        double, errorRate=1.0, errorStatuses=[429], retryAfterSeconds=30, operations=["M11"]
    )
    client = shop_client(http, base, shop, max_retry_after=5.0)
    with pytest.raises(CallUnavailable) as first:
        await client.get_json(THREADS, operation="M11")
    assert first.value.retry_after == 30
    # Another poll, at once: held back, unsent, with the time left.
    with pytest.raises(CallUnavailable) as held:
        await client.get_json(THREADS, {"with_messages": "true"}, operation="M11")
    assert "held back" in str(held.value) and 25 < (held.value.retry_after or 0) <= 30
    # Another operation is not held by M11's Retry-After: it is sent, and answered.
    await faults(double)
    with pytest.raises(CallRefused, match="HTTP 404"):
        await client.get_json(f"{THREADS}/no-such-thread", operation="M10")
    assert (await admin(double, "GET", "/retry-after-violations"))["count"] == 0


async def test_a_thread_read_whole_is_m10_and_held_by_m10s_retry_after(
    double: str, http: httpx.AsyncClient
) -> None:
    """The connector reads a thread whole as M10: a 429's Retry-After on it holds back the
    shop's every later M10, unsent, and not its M11."""
    base, shop = await boulanger(double)
    await faults(
        double, errorRate=1.0, errorStatuses=[429], retryAfterSeconds=30, operations=["M10"]
    )
    client = shop_client(http, base, shop, max_retry_after=5.0)
    with pytest.raises(CallUnavailable) as first:
        await thread_at(client, "11111111-1111-1111-1111-111111111111")
    assert first.value.retry_after == 30
    with pytest.raises(CallUnavailable, match="held back"):
        await client.get_json(f"{THREADS}/22222222-2222-2222-2222-222222222222", operation="M10")
    await faults(double)
    await client.get_json(THREADS, operation="M11")
    assert (await admin(double, "GET", "/retry-after-violations"))["count"] == 0


async def test_5xx_are_retried_then_reported_unavailable(
    double: str, http: httpx.AsyncClient
) -> None:
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop, initial_backoff=0.01, max_backoff=0.05)
    await faults(double, failNext=2, failStatus=503, operations=["M11"])
    assert "data" in await client.get_json(THREADS, operation="M11")
    await faults(double, errorRate=1.0, errorStatuses=[500], operations=["M10"])
    with pytest.raises(CallUnavailable, match="failed 4 times; last: HTTP 500"):
        await client.get_json(f"{THREADS}/any", operation="M10")


async def test_every_call_ends_within_its_deadline(
    double: str, http: httpx.AsyncClient, checked: CheckedRequests
) -> None:
    base, shop = await boulanger(double)
    await faults(double, stallSeconds=5.0, stallShops=[str(shop["shopId"])])
    client = shop_client(http, base, shop, call_deadline=0.5)
    # Cut at the deadline, not answered after the stall, and not asked again.
    with pytest.raises(CallUnavailable, match="no answer within 0.5 s"):
        await client.get_json(THREADS, operation="M11")
    assert checked.seen == ["M11"]


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("html", "an HTML page where JSON was expected"),
        ("redirect", "HTTP 302 redirect to another host (login.invalid)"),
    ],
)
async def test_a_base_url_answering_html_or_redirecting_is_refused_clearly(
    double: str, http: httpx.AsyncClient, kind: str, said: str
) -> None:
    base, shop = await boulanger(double)
    await faults(double, malformedRate=1.0, malformedKind=kind, operations=["M11"])
    with pytest.raises(CallAnswerUnreadable) as refused:
        await shop_client(http, base, shop).get_json(THREADS, operation="M11")
    assert said in str(refused.value) and "BOULANGER" in str(refused.value)
    assert shop["apiKey"] not in str(refused.value)


async def test_the_credential_check_takes_only_mirakls_own_404_as_good(
    double: str, http: httpx.AsyncClient
) -> None:
    """The check's M10 on a thread no shop has: Mirakl's 404 (its message) means key and
    shop are good; the sandbox's own 404 off the operator's API is another server's."""
    base, shop = await boulanger(double)
    fields = {"api_key": shop["apiKey"], "shop_id": str(shop["shopId"])}
    settings = MiraklSettings(mirakl_catalogue=service_env(double)["MIRAKL_CATALOGUE"])
    api = settings.shop_api("BOULANGER")
    assert api is not None and api.api_url == base
    check = connector_for("BOULANGER").credential_check
    assert check is not None
    assert await check.verify(fields, http=http, settings=api) == (
        f"mirakl@{httpx.URL(double).host}:{httpx.URL(double).port}:{shop['shopId']}"
    )
    elsewhere = msgspec.structs.replace(api, api_url=f"{double}/not-mirakl")
    with pytest.raises(CallAnswerUnreadable, match="a 404 that is not Mirakl's"):
        await check.verify(fields, http=http, settings=elsewhere)
    with pytest.raises(CredentialsRefused, match="403"):
        await check.verify({**fields, "shop_id": "1"}, http=http, settings=api)


async def test_a_retry_after_past_the_calls_deadline_ends_the_call_at_once(
    double: str, http: httpx.AsyncClient, checked: CheckedRequests
) -> None:
    """Waiting would only be cut at the deadline: the call ends at the 429, its caller told
    when to come back."""
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop, call_deadline=0.8)
    await client.get_json(THREADS, operation="M11")
    # Not waited out and asked again: the 429 is the call's last answer (a wait would have
    # been cut at the deadline, saying so).
    with pytest.raises(CallUnavailable, match="retry after 1 s") as refused:
        await client.get_json(THREADS, operation="M11")
    assert refused.value.retry_after == 1 and checked.seen == ["M11", "M11"]


async def test_a_garbled_first_page_is_not_asked_again_within_the_call(
    double: str, http: httpx.AsyncClient, checked: CheckedRequests
) -> None:
    """The garbled answer was counted against M11's frequency: asking again at once would
    only meet a 429 (and a poll retried so would never recover before the next minute)."""
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop, initial_backoff=0.01)
    await faults(double, malformedNext=1, malformedKind="invalid_json", operations=["M11"])
    with pytest.raises(CallAnswerUnreadable, match="not JSON"):
        await client.get_json(THREADS, paced=True, operation="M11")
    assert checked.seen == ["M11"]


@pytest.mark.parametrize("status", [500, 503])
async def test_an_m12_reply_whose_answer_is_lost_is_never_sent_again_by_the_client(
    double: str, http: httpx.AsyncClient, checked: CheckedRequests, status: int
) -> None:
    """M12 (a multipart POST) may have been applied when its answer is a 5xx: the client
    says the outcome is unknown (the poller reads the thread back) and never repeats it."""
    base, shop = await boulanger(double)
    client = shop_client(http, base, shop, initial_backoff=0.01, max_backoff=0.05)
    await faults(double, failNext=3, failStatus=status, operations=["M12"])
    with pytest.raises(CallOutcomeUnknown):
        await client.post_multipart(
            f"{THREADS}/any-thread/message",
            [("message_input", (None, b'{"body":"Bonjour"}', "application/json"))],
            operation="M12",
        )
    assert checked.seen.count("M12") == 1


def test_a_keys_repr_shows_its_shop_and_never_the_key() -> None:
    shown = repr(MiraklKey(api_key="a-shop-users-api-key", shop_id="2001"))
    assert "a-shop-users-api-key" not in shown and "2001" in shown
