"""The kit's requester on an API that answers in documents (kit/requester.py), against a real
HTTP server scripted per test: the token carried in the request's body and renewed once
when an envelope says it expired, a login refused in its envelope the credentials refused,
an envelope's other refusals the marketplace's own error, "later" asked again, an error
status whose answer is a document read by its envelope, a garbled document asked again
within a read but never within a send, one nested past the guard's depth refused at once,
the size cap, and texts without the shop's key."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from keybuzz_devstack.testing import asgi_body, serving
from keybuzz_shared.addresses import data_client
from keybuzz_shared.connectors.kit import ApiSpec, CallErrors, HeaderAuth, Refusals, Requester
from keybuzz_shared.connectors.kit.requester import Answers, Garbled, Refusal
from keybuzz_shared.connectors.kit.xml_answers import parse_guarded
from keybuzz_shared.file_links import FileLinks, LinkRefused
from lxml import etree

from tests.test_connector_kit import (
    KitCredentialsRefused,
    KitOutcomeUnknown,
    KitRefused,
    KitUnavailable,
    KitUnreadable,
)

KEY = "k3y-of-the-shop-0123"


@dataclass(frozen=True)
class Envelope:
    status: str  # OK, REFUSED, EXPIRED, LATER
    said: str  # the answer's text, redacted
    root: Any


class Documents:
    """A marketplace answering ``<answer status="…">text</answer>``."""

    content_type = "text/xml; charset=utf-8"

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Envelope:
        unreadable = functools.partial(KitUnreadable, "doc")
        root = parse_guarded(content, unreadable, max_bytes=max_bytes, garbled=Garbled)
        return Envelope(root.get("status") or "", redact(root.text or ""), root)

    def refusal(self, document: Envelope) -> Refusal | None:
        if document.status == "OK":
            return None
        return Refusal(document.status, later=document.status == "LATER")


class OwnError(Exception):
    def __init__(self, call: str, said: str) -> None:
        super().__init__(f"{call}: {said}")
        self.said = said


def own_error(call: str, status: int, document: Any) -> Exception | None:
    if isinstance(document, Envelope) and call != "login":
        return OwnError(call, document.said)
    return None


def expired(response: httpx.Response, document: Any) -> bool:
    return isinstance(document, Envelope) and document.status == "EXPIRED"


DOCUMENTS: Answers = Documents()
SPEC = ApiSpec(
    "Doc",
    logging.getLogger("kit-answers-test"),
    CallErrors(
        unavailable=KitUnavailable,
        unreadable=KitUnreadable,
        outcome_unknown=KitOutcomeUnknown,
        refused=KitRefused,
        credentials_refused=KitCredentialsRefused,
    ),
    Refusals(expired=expired, error=own_error),
    answers=DOCUMENTS,
)


def answer(status: str, text: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><answer status="{status}">{text}</answer>'.encode()
    )


@dataclass
class Reply:
    body: bytes
    status: int = 200
    kind: str = "text/xml"


@dataclass
class Script:
    """What the server answers by path (the next of a path's list, its last repeated) and
    every request it saw: (path, headers, body)."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self, path: str) -> list[bytes]:
        return [body for seen_path, _, body in self.seen if seen_path == path]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await asgi_body(receive)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append((path, headers, body))
        queue = self.replies[path]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(b"content-type", reply.kind.encode())],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    async with serving(script) as url:
        yield f"{url}/api/", script


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def request(carried: Mapping[str, str], text: str = "") -> bytes:
    root = etree.Element("ask", attrib=dict(carried))
    root.text = text
    return bytes(etree.tostring(root))


def requester(base: str, http: httpx.AsyncClient, **options: Any) -> Requester:
    """A shop whose login sends its key and answers the token as the document's text."""
    calls: list[Requester] = []

    async def login() -> str:
        document = await calls[0].request(
            "POST", "login", name="login", body=lambda _: request({}, KEY), login=True
        )
        return str(document.said)

    auth = HeaderAuth.LoginToken(
        login, lambda token: token, carry=lambda t: {"token": t}, secrets=[KEY]
    )
    made = Requester(SPEC, auth, http, base, initial_backoff=0.01, max_backoff=0.02, **options)
    calls.append(made)
    return made


async def test_the_token_goes_in_the_body_and_an_envelope_saying_it_expired_renews_it_once(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/login"] = [Reply(answer("OK", "one")), Reply(answer("OK", "two"))]
    script.replies["/api/orders"] = [Reply(answer("OK", "listed"))]
    doc = requester(base, http)
    found = await asyncio.gather(
        *(doc.request("POST", "orders", name="orders", body=request) for _ in range(4))
    )
    assert {f.said for f in found} == {"listed"} and len(script.bodies("/api/login")) == 1
    assert set(script.bodies("/api/orders")) == {b'<ask token="one"></ask>'}
    path, headers, _ = script.seen[-1]
    assert headers["accept"] == "text/xml" and "token" not in headers
    assert headers["content-type"] == "text/xml; charset=utf-8"
    assert script.bodies("/api/login") == [f"<ask>{KEY}</ask>".encode()]

    script.replies["/api/orders"] = [Reply(answer("EXPIRED")), Reply(answer("OK", "again"))]
    assert (await doc.request("POST", "orders", name="orders", body=request)).said == "again"
    assert script.bodies("/api/orders")[-2:] == [
        b'<ask token="one"></ask>',
        b'<ask token="two"></ask>',
    ]
    # Refused again once renewed: the marketplace's own error after one login, no more.
    script.replies["/api/orders"] = [Reply(answer("EXPIRED", "still not"))]
    with pytest.raises(OwnError, match="still not"):
        await doc.request("POST", "orders", name="orders", body=request)
    assert len(script.bodies("/api/login")) == 3


async def test_authenticate_logs_in_now_whatever_the_token_kept_and_sends_nothing_for_headers(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/login"] = [Reply(answer("OK", "one")), Reply(answer("OK", "two"))]
    doc = requester(base, http)
    assert await doc.authenticate() == "one"
    assert await doc.authenticate() == "two" and len(script.bodies("/api/login")) == 2
    seen = len(script.seen)
    keyed = Requester(SPEC, HeaderAuth({"X-Key": KEY}, secrets=[KEY]), http, base)
    assert await keyed.authenticate() is None and len(script.seen) == seen


async def test_a_login_refused_in_its_envelope_is_the_credentials_refused_never_quoting_the_key(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/login"] = [Reply(answer("REFUSED", f"wrong key {KEY}"))]
    script.replies["/api/orders"] = [Reply(answer("OK"))]
    with pytest.raises(KitCredentialsRefused):
        await requester(base, http).request("POST", "orders", name="orders", body=request)
    assert script.bodies("/api/orders") == []
    # An envelope's texts reach the marketplace's reader without the key.
    script.replies["/api/login"] = [Reply(answer("OK", "t"))]
    script.replies["/api/orders"] = [Reply(answer("REFUSED", f"not for {KEY}"))]
    with pytest.raises(OwnError) as refused:
        await requester(base, http).request("POST", "orders", name="orders", body=request)
    assert refused.value.said == "not for [REDACTED]"


async def test_later_is_asked_again_and_an_error_status_with_a_document_is_read_by_it(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/login"] = [Reply(answer("OK", "t"))]
    script.replies["/api/orders"] = [Reply(answer("LATER")), Reply(answer("OK", "now"))]
    doc = requester(base, http)
    assert (await doc.request("POST", "orders", name="orders", body=request)).said == "now"
    assert len(script.bodies("/api/orders")) == 2
    script.replies["/api/orders"] = [Reply(answer("REFUSED", "no such order"), status=400)]
    with pytest.raises(OwnError, match="no such order"):
        await doc.request("POST", "orders", name="orders", body=request)
    script.replies["/api/orders"] = [Reply(b"<html>gone</html>", status=404, kind="text/html")]
    with pytest.raises(KitRefused):
        await doc.request("POST", "orders", name="orders", body=request)


async def test_a_garbled_document_is_asked_again_by_a_read_never_by_a_send_and_capped(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/login"] = [Reply(answer("OK", "t"))]
    script.replies["/api/orders"] = [
        Reply(b'<answer status="OK">cut'),
        Reply(answer("OK", "whole")),
    ]
    doc = requester(base, http)
    assert (await doc.request("POST", "orders", name="orders", body=request)).said == "whole"
    script.replies["/api/reply"] = [Reply(b'<answer status="OK">cut')]
    with pytest.raises(KitOutcomeUnknown):
        await doc.request("POST", "reply", name="reply", body=request, idempotent=False)
    assert len(script.bodies("/api/reply")) == 1
    script.replies["/api/orders"] = [Reply(answer("OK", "x" * 5_000))]
    with pytest.raises(KitUnreadable, match="response larger than 1000 bytes"):
        await doc.request("POST", "orders", name="orders", body=request, max_bytes=1_000)
    with pytest.raises(KitUnreadable, match="DTD"):
        script.replies["/api/orders"] = [Reply(b'<!DOCTYPE a [<!ENTITY b "c">]><answer/>')]
        await doc.request("POST", "orders", name="orders", body=request)


async def test_a_document_nested_past_the_guards_depth_is_refused_at_once_never_asked_again(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    """libxml2 without huge-tree mode takes elements 256 deep (the root the first): one
    level more is the marketplace's unreadable answer (the same would come again)."""
    base, script = server
    script.replies["/api/login"] = [Reply(answer("OK", "t"))]
    script.replies["/api/orders"] = [Reply(answer("OK", "<a>" * 255 + "</a>" * 255))]
    doc = requester(base, http)
    assert (await doc.request("POST", "orders", name="orders", body=request)).status == "OK"
    script.replies["/api/orders"] = [
        Reply(answer("OK", "<a>" * 256 + "</a>" * 256)),
        Reply(answer("OK", "whole")),
    ]
    with pytest.raises(KitUnreadable, match="past the XML parser's limits"):
        await doc.request("POST", "orders", name="orders", body=request)
    assert len(script.bodies("/api/orders")) == 2  # the one read, then the one refused


async def test_a_file_fetched_without_the_token_from_declared_hosts_never_quotes_its_link(
    server: tuple[str, Script], http: httpx.AsyncClient
) -> None:
    base, script = server
    script.replies["/api/files/buyer-42/photo.jpg"] = [
        Reply(b"", status=503, kind="text/plain"),
        Reply(b"\xff\xd8jpeg", kind="image/jpeg"),
    ]
    doc = requester(base, http, files=FileLinks([base], inside_allowed=True), attempts=1)
    with pytest.raises(KitUnavailable) as down:
        await doc.get_bytes(f"{base}files/buyer-42/photo.jpg", 1_000)
    assert "503" in str(down.value) and "buyer-42" not in str(down.value)
    assert await doc.get_bytes("files/buyer-42/photo.jpg", 1_000) == b"\xff\xd8jpeg"
    assert all("token" not in headers for _, headers, _ in script.seen)
    assert script.bodies("/api/login") == []  # a public file needs no login
    with pytest.raises(LinkRefused):
        await doc.get_bytes("https://elsewhere.invalid/files/9", 1_000)


async def test_an_api_whose_host_is_inside_our_network_is_unavailable_saying_so(
    server: tuple[str, Script],
) -> None:
    """Production's client of data-given addresses (a catalogue's host spelled ``127.1``):
    the call is the marketplace unavailable, saying why, and reaches nothing."""
    base, script = server
    async with data_client(5, inside_allowed=False) as http:
        doc = requester(base.replace("127.0.0.1", "127.1"), http, attempts=1)
        with pytest.raises(KitUnavailable, match="127.0.0.1, an address inside our network"):
            await doc.request("POST", "orders", name="orders", body=request)
    assert script.seen == []
