"""The kit's ``Requester.request`` against a real HTTP server scripted per test: an XML API
whose calls are GETs, the shop's key in the query string (``HeaderAuth``'s
params): the answer read as a document and its envelope's refusal the marketplace's own
error; a garbled answer asked again within a read, never within a send (its outcome
unknown); the call named by its name, never by its URL, and the key in no error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from keybuzz_devstack.testing import serving
from keybuzz_shared.connectors.kit import ApiSpec, HeaderAuth, Requester

from tests.test_connector_kit import KitOutcomeUnknown
from tests.test_kit_answers import DOCUMENTS, SPEC, OwnError, answer

KEY = "k3y-in-the-query-0123"
SPEC_OF_GETS = ApiSpec(SPEC.label, SPEC.log, SPEC.errors, SPEC.refusals, answers=DOCUMENTS)


class Gets:
    """Answers each call with the next of ``answers`` (the last repeated); ``seen``: the
    methods and query strings asked."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append(f"{scope['method']} {scope['query_string'].decode()}")
        body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        headers = [(b"content-type", b"text/xml")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def gets() -> AsyncIterator[tuple[Requester, Gets]]:
    app = Gets()
    async with serving(app) as url, httpx.AsyncClient() as http:
        auth = HeaderAuth({}, params={"login": "shop", "pwd": KEY}, secrets=(KEY,))
        yield Requester(SPEC_OF_GETS, auth, http, f"{url}/ws/", initial_backoff=0.01), app


async def test_a_get_carries_the_key_in_its_query_and_reads_the_document(
    gets: tuple[Requester, Gets],
) -> None:
    requester, app = gets
    app.answers = [answer("OK", "listed")]
    found = await requester.request("GET", "sales_ws", {"action": "list"}, name="list")
    assert found.said == "listed" and requester.sent["list"] == 1
    assert app.seen == [f"GET action=list&login=shop&pwd={KEY}"]
    # A JSON body where the API takes documents is refused at once, nothing sent.
    with pytest.raises(TypeError, match="a body makes one"):
        await requester.request("POST", "sales_ws", name="send", body={"action": "send"})
    assert requester.sent["send"] == 0 and len(app.seen) == 1


async def test_an_envelopes_refusal_is_the_marketplaces_error_without_the_key(
    gets: tuple[Requester, Gets],
) -> None:
    requester, app = gets
    app.answers = [answer("REFUSED", f"no such key {KEY}")]
    with pytest.raises(OwnError) as refused:
        await requester.request("GET", "sales_ws", {"action": "list"}, name="list")
    assert KEY not in str(refused.value) and "list" in str(refused.value)


async def test_a_garbled_answer_is_asked_again_in_a_read_never_in_a_send(
    gets: tuple[Requester, Gets],
) -> None:
    requester, app = gets
    app.answers = [answer("OK", "cut")[:20], answer("OK", "whole")]
    assert (await requester.request("GET", "ws", {}, name="read")).said == "whole"
    app.answers = [answer("OK", "cut")[:20], answer("OK", "whole")]
    with pytest.raises(KitOutcomeUnknown) as lost:
        await requester.request("GET", "ws", {"text": "hi"}, name="send", idempotent=False)
    assert requester.sent["send"] == 1 and KEY not in str(lost.value)
