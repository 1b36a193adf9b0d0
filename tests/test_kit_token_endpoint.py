"""The consent flows' code exchange (kit ``ApiSpec.token_endpoint``, each flow's
``code_exchange``): a refusal of the token endpoint is the seam's (``GrantInvalid`` for
``invalid_grant``, ``GrantRefused`` else, its code masked) and the single-use code is sent
once, never again after a refusal (RFC 6749 4.1.2: a code used twice may revoke the tokens
it gave), nor after a grant whose token a later call of the exchange found refused. A local
token endpoint answers; no stack."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from keybuzz_connector_amazon.credentials import AppCredentials
from keybuzz_connector_amazon.redirect import AmazonRedirectFlow
from keybuzz_connector_ebay.consent import ConsentApp, EbayRedirectFlow
from keybuzz_connector_ebay.settings import EbayFlowSettings
from keybuzz_devstack.testing import asgi_body, serving
from keybuzz_shared.connectors import kit, seam

from tests.test_kit_answers import DOCUMENTS

CODE = "the-single-use-code"


@dataclass
class TokenEndpoint:
    """Answers the token request with ``status`` and ``document``, keeping each form
    sent, and any other request (the Identity API's) with a 401."""

    status: int
    document: dict[str, Any]
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    others: int = 0  # requests other than the token's
    url: str = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status, document = 401, {"error": "invalid_token"}
        if scope["method"] == "POST" and scope["path"] == "/token":
            self.forms.append(parse_qs((await asgi_body(receive)).decode()))
            status, document = self.status, self.document
        else:
            self.others += 1
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(document).encode()})


ANSWERS = {
    401: {"error": "invalid_client", "error_description": "refused"},
    400: {"error": "invalid_grant", "error_description": "refused"},
    # eBay's token type (LWA's exchange does not check it)
    200: {"access_token": "at", "refresh_token": "rt", "token_type": "User Access Token"},
}


@pytest.fixture(params=sorted(ANSWERS))
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[TokenEndpoint]:
    served = TokenEndpoint(request.param, ANSWERS[request.param])
    async with serving(served) as url:
        served.url = f"{url}/token"
        yield served


def flows(url: str) -> dict[str, tuple[seam.RedirectFlow, seam.RedirectApp, seam.CodeExchange]]:
    """Each consent flow, its app and its code exchange at ``url``."""
    given = {
        "default_site": "FR",
        "consent_origin": None,
        "draft": None,
        "redirect_uri": None,
        "app_source": "default",
        "token_endpoint": url,
        "token_cacert": None,
    }
    amazon, ebay = AmazonRedirectFlow(), EbayRedirectFlow()
    return {
        "amazon": (
            amazon,
            AppCredentials("id", "secret", "app", "https://cb", "eu"),
            amazon.code_exchange(seam.RedirectFlowSettings(**given)),
        ),
        "ebay": (
            ebay,
            ConsentApp("id", "secret", "RuName", "https://cb", "default"),
            ebay.code_exchange(EbayFlowSettings(**given, identity_url=url)),
        ),
    }


@pytest.mark.parametrize("marketplace", ["amazon", "ebay"])
async def test_the_code_is_sent_once_and_a_refusal_is_the_seams(
    endpoint: TokenEndpoint, marketplace: str
) -> None:
    _, app, exchange = flows(endpoint.url)[marketplace]
    granted: seam.TokenGrant | None = None
    error: Exception | None = None
    try:
        granted = await exchange.exchange_code(app, CODE, "https://cb")
    except Exception as refused:  # the count first, then what it was
        error = refused
    finally:
        await exchange.aclose()
    assert [form["code"] for form in endpoint.forms] == [[CODE]]  # once, never again
    if endpoint.status != 200:  # the endpoint's own code, invalid_grant the seam's own
        assert isinstance(error, seam.GrantRefused) and error.code == endpoint.document["error"]
        assert (error.code == "invalid_grant") == isinstance(error, seam.GrantInvalid)
        assert "secret" not in str(error)
    elif marketplace == "ebay":  # its account asked with the token given: refused
        assert isinstance(error, seam.GrantRefused) and error.code == "invalid_token"
    else:
        assert granted is not None and granted.refresh_token == "rt"


SPEC = kit.ApiSpec.token_endpoint(
    "the endpoint",
    logging.getLogger(__name__),
    refused=lambda code, why, status: seam.GrantRefused(code),
    invalid=lambda code, why, status: seam.GrantInvalid(code),
    unavailable=seam.TokenEndpointUnavailable,
)
CODE_GRANT = {"grant_type": "authorization_code", "code": CODE, "redirect_uri": "RuName"}


async def test_client_credentials_keep_the_refresh_token_a_code_gives() -> None:
    """A code traded by the app's credentials (``kit.ClientCredentials``, the app as HTTP
    Basic): the refresh token the grant gave kept beside the access token, both secrets."""
    served = TokenEndpoint(200, {"access_token": "at", "refresh_token": "rt"})
    async with serving(served) as url, httpx.AsyncClient() as http:
        tokens = kit.ClientCredentials(f"{url}/token", "id", "secret", grant=CODE_GRANT, basic=True)
        await kit.Requester(SPEC, tokens, http, url).authenticate()
    assert [form["code"] for form in served.forms] == [[CODE]]
    assert tokens.refresh_token == "rt" and {"at", "rt"} <= set(tokens.secrets())


async def test_client_credentials_send_an_authorization_code_once() -> None:
    """A code's token found expired at the next call is not renewed with the code again:
    that call fails, unsent, refused (a new consent, not a retry, can help)."""
    served = TokenEndpoint(200, {"access_token": "at", "refresh_token": "rt", "expires_in": 0})
    async with serving(served) as url, httpx.AsyncClient() as http:
        tokens = kit.ClientCredentials(f"{url}/token", "id", "secret", grant=CODE_GRANT)
        asked = kit.Requester(SPEC, tokens, http, url)
        with pytest.raises(seam.GrantRefused):  # the endpoint refuses the token: 401
            await asked.get_json("user")
        with pytest.raises(seam.GrantRefused):
            await asked.get_json("user")
    assert [form["code"] for form in served.forms] == [[CODE]]
    assert served.others == 1  # the second call never sent


async def test_a_document_apis_token_is_read_as_the_json_its_endpoint_answers() -> None:
    """An API answering documents (XML) still reads its OAuth token endpoint's JSON."""
    served = TokenEndpoint(200, {"access_token": "at", "expires_in": 3600})
    documents = kit.ApiSpec(SPEC.label, SPEC.log, SPEC.errors, SPEC.refusals, answers=DOCUMENTS)
    async with serving(served) as url, httpx.AsyncClient() as http:
        tokens = kit.ClientCredentials(f"{url}/token", "id", "secret")
        await kit.Requester(documents, tokens, http, url).authenticate()
    assert len(served.forms) == 1 and "at" in set(tokens.secrets())
