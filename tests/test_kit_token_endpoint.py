"""The consent flows' code exchange (kit ``ApiSpec.token_endpoint``, each flow's
``code_exchange``): a refusal of the token endpoint is the seam's (``GrantInvalid`` for
``invalid_grant``, ``GrantRefused`` else, its code masked) and the single-use code is sent
once, never again after a refusal (RFC 6749 4.1.2: a code used twice may revoke the tokens
it gave). A local token endpoint answers; no stack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from keybuzz_connector_amazon.credentials import AppCredentials
from keybuzz_connector_amazon.redirect import AmazonRedirectFlow
from keybuzz_connector_ebay.consent import ConsentApp, EbayRedirectFlow
from keybuzz_connector_ebay.settings import EbayFlowSettings
from keybuzz_shared.connectors import seam

CODE = "the-single-use-code"


@dataclass
class TokenEndpoint:
    """Answers every request with ``status`` and ``document``; keeps each form sent."""

    status: int
    document: dict[str, str]
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(head.split("content-length:")[1].split("\r\n")[0])
        self.forms.append(parse_qs((await reader.readexactly(length)).decode()))
        body = json.dumps(self.document).encode()
        writer.write(
            f"HTTP/1.1 {self.status} X\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture(params=[401, 400])
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[TokenEndpoint]:
    error = "invalid_client" if request.param == 401 else "invalid_grant"
    served = TokenEndpoint(request.param, {"error": error, "error_description": "refused"})
    listening = await asyncio.start_server(served.serve, "127.0.0.1", 0)
    served.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/token"
    yield served
    listening.close()


def flows(url: str) -> dict[str, tuple[seam.RedirectFlow, seam.RedirectApp, seam.CodeExchange]]:
    """Each consent flow, its app and its code exchange at ``url``."""
    given = {"default_site": "FR", "consent_origin": None, "draft": None, "redirect_uri": None,
             "app_source": "default", "token_endpoint": url, "token_cacert": None}  # fmt: skip
    amazon, ebay = AmazonRedirectFlow(), EbayRedirectFlow()
    return {
        "amazon": (amazon, AppCredentials("id", "secret", "app", "https://cb", "eu"),
                   amazon.code_exchange(seam.RedirectFlowSettings(**given))),
        "ebay": (ebay, ConsentApp("id", "secret", "RuName", "https://cb", "default"),
                 ebay.code_exchange(EbayFlowSettings(**given, identity_url=url))),
    }  # fmt: skip


@pytest.mark.parametrize("marketplace", ["amazon", "ebay"])
async def test_a_refused_code_is_the_seams_refusal_and_sent_once(
    endpoint: TokenEndpoint, marketplace: str
) -> None:
    _, app, exchange = flows(endpoint.url)[marketplace]
    expected = seam.GrantInvalid if endpoint.status == 400 else seam.GrantRefused
    try:
        with pytest.raises(expected) as refused:
            await exchange.exchange_code(app, CODE, "https://cb")
    finally:
        await exchange.aclose()
    assert refused.value.code == endpoint.document["error"]
    assert (endpoint.status == 400) == isinstance(refused.value, seam.GrantInvalid)
    assert "secret" not in str(refused.value)
    assert [form["code"] for form in endpoint.forms] == [[CODE]]  # once, never again
