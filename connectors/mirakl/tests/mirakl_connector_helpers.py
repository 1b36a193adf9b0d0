"""The Mirakl connector's tests against the sandbox's Mirakl double, served in-process on a
free port (its own clock and call frequencies: one test's calls never throttle another's),
with every request our client sends checked against Mirakl's OpenAPI description."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.connector import MiraklApiSettings, MiraklSettings, client_of
from keybuzz_double_mirakl.contract import DESCRIBED
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.double_kit.api import multipart
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors.kit import Declaration, Requester

ADMIN = "/_sandbox/mirakl"
# Mirakl's minute (M11's and OR11's frequency) lasts a second of the tests.
TIME_SCALE = 60.0
MULTIPART_PARTS = {"M12": "message_input"}


def shop_client(
    http: httpx.AsyncClient,
    base_url: str,
    shop: dict[str, Any],
    operator: str = "BOULANGER",
    **options: Any,
) -> Requester:
    """The client a session of ``shop`` (as the double's admin lists it) opens on the
    operator's ``base_url``."""
    entry = Operator(code=operator, name=operator, base_url=base_url, response_hours=24)
    api_view = MiraklSettings().view(
        MiraklApiSettings, api_url=base_url, attachment_origins=(), operator=entry
    )
    credentials = {"api_key": shop["apiKey"], "shop_id": str(shop["shopId"])}
    return client_of(Declaration.Opening(credentials, http, api_view, options))


class CheckedRequests:
    """An httpx request hook: each request to an operator's API checked against Mirakl's
    description (its operation, query parameters and their values, its JSON parts), what
    is wrong kept in ``problems``, each request's operation in ``seen``."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        path = request.url.path
        if "/api/" not in path:
            return
        relative = path[path.index("/api/") :]
        operation = DESCRIBED.operation_at(request.method, relative)
        if operation is None:
            self.problems.append(f"{request.method} {relative}: no such operation")
            return
        self.seen.append(operation)
        query = dict(request.url.params)
        self.problems += [f"{operation}: {p}" for p in DESCRIBED.query_problems(operation, query)]
        if "authorization" not in request.headers:
            self.problems.append(f"{operation}: no Authorization")
        if part := MULTIPART_PARTS.get(operation):
            body = await request.aread()
            kind = request.headers.get("content-type", "")
            for found in multipart(kind, body):
                if found.name == part:
                    value = httpx.Response(200, content=found.content).json()
                    found_problems = DESCRIBED.body_problems(
                        operation, value, "multipart/form-data", part
                    )
                    self.problems += [f"{operation}: {p}" for p in found_problems]


async def operators(sandbox: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        return {o["code"]: o for o in (await http.get(f"{sandbox}{ADMIN}/operators")).json()}


async def admin(sandbox: str, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.request(method, f"{sandbox}{ADMIN}{path}", **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def unpaced(env: dict[str, str]) -> dict[str, str]:
    """The double's service settings with no frequency in the catalogue, for tests that set
    the double's frequencies aside: a poll may follow the last one at once (the poller
    otherwise waits for the operator's M11 frequency, poller/shops/pacing.py)."""
    catalogue = json.loads(env["MIRAKL_CATALOGUE"])
    for entry in catalogue:
        entry["frequencies"] = {}
    return {**env, "MIRAKL_CATALOGUE": json.dumps(catalogue)}


async def serve_double(**config: Any) -> AsyncIterator[str]:
    """The double on a sandbox of its own, at ``TIME_SCALE`` unless ``time_scale`` is given."""
    settings = {"time_scale": TIME_SCALE, "serving": ("mirakl",), **config}
    async with running_sandbox(SandboxConfig(**settings)) as url:
        yield url
