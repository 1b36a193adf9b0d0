"""Fnac's requester, whose every call is one service (``FnacClient`` in client.py), and
the ApiSpec a status envelope makes (``StatusEnvelope.spec`` in kit/xml_answers.py),
against a marketplace scripted per test and served in process (httpx's ASGI transport):
one login for concurrent first calls, its token carried in every request's root beside
the shop's ids, a token refused renewed once and the call sent again, the shop's key (its
credentials' secret) in no error, an answer of another service's shape or larger than the
page asked refused, never cut. No server. A page listing more than asked: in
test_fnac_client.py, against the double."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_connector_fnac import client as fnac
from keybuzz_connector_fnac.client import FnacClient, FnacCredentials
from keybuzz_connector_fnac.models import (
    FnacCredentialsRefused,
    FnacProtocolError,
    MessagesQuery,
)
from keybuzz_devstack.testing import asgi_body
from keybuzz_shared.connectors.kit.xml_answers import (
    Element,
    StatusEnvelope,
)
from lxml import etree

NS = fnac.NS
KEY = "k3y-0f-the-shop-0123456789"


class Unreadable(Exception):
    pass


class Refused(StatusEnvelope.Refused):
    label = "Market"


class CredentialsRefused(StatusEnvelope.CredentialsRefused):
    label = "Market"


ENVELOPE = StatusEnvelope(
    ns=NS,
    unreadable=Unreadable,
    accepting=frozenset({"OK"}),
    refusing=frozenset({"ERROR"}),
    token=frozenset({"E_TOKEN"}),
)
SPEC = ENVELOPE.spec(
    "Market",
    logging.getLogger("tests.market"),
    login="auth",
    credentials_refused=CredentialsRefused,
    refused=Refused,
    max_response_bytes=64 * 1024,
)


class ItemsQuery(msgspec.Struct, frozen=True, kw_only=True):
    results_count: int = msgspec.field(default=2, name="@results_count")
    page: int = msgspec.field(default=1, name="paging")


class Market:
    """The marketplace: ``auth`` grants token-1, token-2 … for the shop's key (echoing a
    wrong one in its error); any other service answers ``items`` messages (each off its
    shape) while the token is the latest one; ``answers`` replaces the next answers."""

    def __init__(self) -> None:
        self.logins = 0
        self.items = 2
        self.answers: list[bytes] = []
        self.asked: list[Element] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await asgi_body(receive)
        root = etree.fromstring(body)
        self.asked.append(root)
        answer = self.answers.pop(0) if self.answers else self._answer(root)
        headers = [(b"content-type", b"text/xml; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, root: Element) -> bytes:
        service = etree.QName(root).localname
        if service == "auth":
            key = root.findtext(f"{{{NS}}}key")
            if key != KEY:
                return envelope("auth", "ERROR", f'<error code="E_KEY">key {key} unknown</error>')
            self.logins += 1
            return envelope("auth", "OK", f"<token>token-{self.logins}</token>")
        if root.get("token") != f"token-{self.logins}":
            return envelope(service, "ERROR", '<error code="ERR_002">expired</error>')
        return envelope(service, "OK", "<message/>" * self.items)


def envelope(service: str, status: str, inside: str) -> bytes:
    return (
        f'<{service}_response xmlns="{NS}" status="{status}">{inside}</{service}_response>'.encode()
    )


def services(http: httpx.AsyncClient, key: str = KEY) -> FnacClient:
    credentials = FnacCredentials(partner_id="P1", shop_id="S1", key=key)
    return FnacClient(http, "http://market.test/api/", credentials, attempts=1)


@pytest.fixture
async def market() -> AsyncIterator[tuple[Market, httpx.AsyncClient]]:
    app = Market()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        yield app, http


def items(root: Element) -> int:
    return len(fnac.ENVELOPE.node(root).all("message"))


async def test_the_first_calls_share_one_login_and_carry_its_token_in_their_root(
    market: tuple[Market, httpx.AsyncClient],
) -> None:
    app, http = market
    shop = services(http)
    answers = await asyncio.gather(*(shop.service("items_query", ItemsQuery()) for _ in range(3)))
    assert [items(a.root) for a in answers] == [2, 2, 2] and app.logins == 1
    login, *calls = app.asked
    assert etree.QName(login).localname == "auth" and login.get("token") is None
    assert login.findtext(f"{{{NS}}}shop_id") == "S1"
    for call in calls:
        assert (call.get("shop_id"), call.get("token"), call.get("results_count")) == (
            "S1",
            "token-1",
            "2",
        )
        assert call.findtext(f"{{{NS}}}paging") == "1"
    assert shop.tokens.granted is not None


async def test_a_token_refused_is_renewed_once_and_the_call_sent_again(
    market: tuple[Market, httpx.AsyncClient],
) -> None:
    app, http = market
    shop = services(http)
    await shop.authenticate()
    app.logins += 1  # the marketplace let the shop's token expire
    answer = await shop.service("items_query", ItemsQuery())
    assert items(answer.root) == 2 and app.logins == 3
    assert [etree.QName(r).localname for r in app.asked] == [
        "auth",
        "items_query",
        "auth",
        "items_query",
    ]
    assert app.asked[-1].get("token") == "token-3"


async def test_a_refused_key_is_the_credentials_refused_and_no_error_quotes_it(
    market: tuple[Market, httpx.AsyncClient],
) -> None:
    app, http = market
    wrong = "wr0ng-k3y-0f-the-shop-987654"
    with pytest.raises(FnacCredentialsRefused) as refused:
        await services(http, key=wrong).service("items_query", ItemsQuery())
    assert refused.value.codes == ("E_KEY",) and "Fnac refused" in str(refused.value)
    assert wrong not in str(refused.value) and wrong not in repr(refused.value.errors)
    assert app.logins == 0


async def test_an_answer_of_another_shape_or_larger_than_the_page_asked_is_refused(
    market: tuple[Market, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, http = market
    shop = services(http)
    await shop.authenticate()
    app.answers.append(envelope("orders_query", "OK", ""))
    with pytest.raises(FnacProtocolError, match="expected <items_query_response>"):
        await shop.service("items_query", ItemsQuery())

    asked = MessagesQuery(results_count=2)
    assert len((await shop.listed(asked)).items) == 2  # each off its shape, unread
    monkeypatch.setattr(MessagesQuery, "ITEM_BYTES", 8)
    monkeypatch.setattr(fnac, "ENVELOPE_BYTES", 50)
    with pytest.raises(FnacProtocolError, match="larger than 66 bytes"):
        await shop.listed(asked)  # bounded by the page asked: 50 + 2 x 8 bytes


def test_the_envelopes_spec_says_its_errors_with_its_own_shapes() -> None:
    errors = SPEC.errors
    assert isinstance(errors.unreadable("items_query", "why"), Unreadable)
    refused = errors.refused("items_query", 418, "teapot")
    assert isinstance(refused, Refused) and refused.status == "HTTP 418"
    assert str(refused) == "Market items_query answered HTTP 418: no error given"
    credentials = errors.credentials_refused("HTTP 401")
    assert isinstance(credentials, CredentialsRefused) and "HTTP 401" in str(credentials)
    assert SPEC.answers is ENVELOPE and SPEC.max_response_bytes == 64 * 1024
