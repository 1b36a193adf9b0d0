"""Constants, the model-contract checker and flow helpers for the sandbox tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from jsonschema import Draft4Validator
from keybuzz_sandbox.double_kit.described import close_objects

CLIENT_ID = "amzn1.application-oa2-client.keybuzz-sandbox"
CLIENT_SECRET = "keybuzz-sandbox-secret"
APPLICATION_ID = "amzn1.sp.solution.keybuzz-sandbox"
FR_SELLER = "A12BCIS2R7HD4D"
DE_SELLER = "A3DESELLERBENCH"
FR = "A13V1IB3VIYZZH"
DE = "A1PA6795UKMFR9"
CALLBACK = "http://127.0.0.1:8001/api/v1/marketplaces/amazon/oauth/callback"
SANDBOX_PREFIXES = ("/_sandbox", "/auth/", "/apps/", "/health")


class Contract:
    """Response schemas of the vendored Swagger files, looked up by request path."""

    def __init__(self) -> None:
        folder = resources.files("keybuzz_double_amazon") / "spapi_models"
        self.operations: list[tuple[str, re.Pattern[str], str, dict[str, Any], dict[str, Any]]] = []
        for entry in folder.iterdir():
            if not entry.name.endswith(".json"):
                continue
            doc = json.loads(entry.read_text(encoding="utf-8"))
            close_objects(doc)  # a field the model does not name is a violation too
            for path, item in doc["paths"].items():
                regex = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
                for method, op in item.items():
                    if isinstance(op, dict) and "operationId" in op:
                        self.operations.append(
                            (method.upper(), regex, op["operationId"], op, doc["definitions"])
                        )
        self.seen: set[str] = set()

    def match(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        candidates = [
            (rx.pattern.count("[^/]+"), op_id, op, defs)
            for m, rx, op_id, op, defs in self.operations
            if m == method and rx.match(path)
        ]
        assert candidates, f"{method} {path} is not an operation of the models"
        _, op_id, op, defs = min(
            candidates, key=lambda c: c[0]
        )  # literal segments win over placeholders
        return op_id, op, defs

    def is_operation(self, method: str, path: str) -> bool:
        return any(m == method and rx.match(path) for m, rx, *_ in self.operations)

    def check(self, method: str, path: str, status: int, body: Any) -> str:
        op_id, op, definitions = self.match(method, path)
        response = op["responses"].get(str(status)) or op["responses"].get("default")
        assert response is not None, f"{op_id} has no documented {status} response"
        schema = response.get("schema")
        if schema is not None:
            validator = Draft4Validator({"allOf": [schema], "definitions": definitions})
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, f"{op_id} {status} violates the model: {errors[0].message}"
        self.seen.add(f"{op_id}:{status}")
        return op_id


CONTRACT = Contract()


async def _validate_response(response: httpx.Response) -> None:
    """httpx response hook: every SP-API response must match its model schema."""
    path = response.request.url.path
    if path.startswith(SANDBOX_PREFIXES):
        return
    await response.aread()
    if response.status_code == 404 and not CONTRACT.is_operation(response.request.method, path):
        return  # unknown path: checked by its own test
    CONTRACT.check(response.request.method, path, response.status_code, response.json())


def consent_params(**overrides: str) -> dict[str, str]:
    return {"application_id": APPLICATION_ID, "state": "st-1", "version": "beta", **overrides}


async def authorize(
    client: httpx.AsyncClient, seller: str = FR_SELLER, redirect_uri: str = CALLBACK
) -> str:
    """Run the consent page; returns the spapi_oauth_code."""
    form = consent_params(redirect_uri=redirect_uri, selling_partner_id=seller, action="authorize")
    response = await client.post("/apps/authorize/consent", data=form)
    assert response.status_code == 302, response.text
    return parse_qs(urlparse(response.headers["location"]).query)["spapi_oauth_code"][0]


async def lwa(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post(
        "/auth/o2/token", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
    )


async def connect(client: httpx.AsyncClient, seller: str = FR_SELLER) -> dict[str, Any]:
    """Consent + code exchange: the token response of a freshly connected seller.

    An in-process sandbox's clock stands still from consent to exchange: at a large
    time scale the code lives 300 s / scale (0.06 s at 5000), less than a loaded
    machine may take between two requests. (test_lwa checks the code's lifetime.)
    """
    with _clock_stopped(client):
        code = await authorize(client, seller)
        response = await lwa(
            client, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
        )
    assert response.status_code == 200, response.text
    return response.json()


@contextlib.contextmanager
def _clock_stopped(client: httpx.AsyncClient) -> Iterator[None]:
    """Stop an in-process sandbox's clock meanwhile; a sandbox behind a socket runs on."""
    app = getattr(client, "app", None)
    if app is None:
        yield
        return
    with app.state.sandbox.clock.held():
        yield


class HeldClock:
    """The sandbox's clock stopped where it is: it moves only when the test moves it.

    Replaces the time source the sandbox's Clock was given (its injected ``now``).
    Expiry tests advance it past a lifetime instead of sleeping through it, so a
    loaded machine can neither expire a code between consent and exchange nor
    leave a token alive a little longer than the test slept.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        clock = client.app.state.sandbox.clock  # type: ignore[attr-defined]
        self.now: float = clock.now()
        clock._now = lambda: self.now

    def advance(self, real_seconds: float) -> None:
        self.now += real_seconds


def headers(token: str) -> dict[str, str]:
    return {"x-amz-access-token": token}


def iso_ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def spapi_get(
    client: httpx.AsyncClient,
    path: str,
    token: str,
    params: dict[str, str] | None = None,
    patience: float = 10.0,
) -> httpx.Response:
    """GET like a well-behaved client: wait and retry while throttled (429)."""
    waited = 0.0
    while True:
        response = await client.get(path, params=params or {}, headers=headers(token))
        if response.status_code != 429 or waited >= patience:
            return response
        await asyncio.sleep(0.05)
        waited += 0.05


async def all_orders_v0(
    client: httpx.AsyncClient, token: str, **params: str
) -> list[dict[str, Any]]:
    query = {"MarketplaceIds": FR, **params}
    orders: list[dict[str, Any]] = []
    while True:
        response = await spapi_get(client, "/orders/v0/orders", token, query)
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        orders.extend(payload["Orders"])
        if "NextToken" not in payload:
            return orders
        query = {"MarketplaceIds": query["MarketplaceIds"], "NextToken": payload["NextToken"]}
