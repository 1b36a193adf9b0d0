"""Bad input over HTTP is a 400 JSON error in every service: the shared layer (http.py).

A service of this file's own sends text straight to PostgreSQL, as a store
would, so that what reaches the database is observable; the oauth service's
``POST …/oauth/start`` shows the same refusals on a real endpoint.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN, free_port
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared.auth import issue_token
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.settings import DEV_JWT_SECRET, CommonSettings
from litestar import get, post

HOSTILE = [
    (b"[" * 100_000, "nested deeper than"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested deeper than"),
    (b'{"text": "caf\xe9"}', "not valid UTF-8"),
    (b'{"text": "a\\u0000b"}', "NUL"),
    (b'{"text": "ok", "extra": ["x\\u0000"]}', "NUL"),
]
HOSTILE_IDS = ["deep-array", "deep-object", "latin1", "nul", "nul-in-unknown-field"]
JSON = {"content-type": "application/json"}


class Text(msgspec.Struct):
    text: str


@post("/echo", status_code=200)
async def echo(data: Text, runtime: Runtime[Any]) -> dict[str, str]:
    """What a store does with a text field: hand it to PostgreSQL."""
    return {"text": await runtime.pool.fetchval("SELECT $1::text", data.text)}


@get("/lookup")
async def lookup(q: str, runtime: Runtime[Any]) -> dict[str, str]:
    """A query parameter skips the body check: PostgreSQL's refusal must still be a 400."""
    return {"q": await runtime.pool.fetchval("SELECT $1::text", q)}


@get("/outage")
async def outage(free_port: int) -> None:
    """A store call while its database is down (nothing listens on that port)."""
    await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port}/x", timeout=5)


@get("/bug")
async def bug() -> None:
    raise ValueError("a bug of ours, with a detail that must stay in the log")


INPUT_PROBE = ServiceDefinition(
    name="input-probe",
    description="echoes text through PostgreSQL",
    settings_type=CommonSettings,
    migrations=None,
    route_handlers=[echo, lookup, outage, bug],
)


@pytest.fixture
async def probe(start_service):
    return await start_service(INPUT_PROBE, VAULT_TOKEN=DEV_VAULT_ROOT_TOKEN)


@pytest.mark.parametrize("payload, fragment", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_bodies_are_400_not_500(probe, payload, fragment):
    async with probe.client() as http:
        response = await http.post("/echo", content=payload, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    assert fragment in response.json()["message"]


async def test_good_text_still_reaches_the_database(probe):
    async with probe.client() as http:
        response = await http.post("/echo", json={"text": "café ☕ \\u0000 as text"})
    assert response.status_code == 200
    assert response.json() == {"text": "café ☕ \\u0000 as text"}


async def test_nul_that_reaches_postgresql_is_a_400(probe):
    async with probe.client() as http:
        refused = await http.get("/lookup", params={"q": "a\x00b"})
        fine = await http.get("/lookup", params={"q": "ab"})
    assert refused.status_code == 400, refused.text
    assert refused.json() == {
        "error": "bad_request",
        "message": "text contains a character that cannot be stored (e.g. NUL)",
    }
    assert fine.json() == {"q": "ab"}


async def test_a_dependency_down_is_a_503_and_a_bug_a_500_without_details(probe):
    async with probe.client() as http:
        down = await http.get("/outage", params={"free_port": free_port()})
        broken = await http.get("/bug")
    assert down.status_code == 503, down.text
    assert down.json()["error"] == "unavailable"
    assert down.json()["message"] == "a dependency is unavailable; retry later"
    assert broken.status_code == 500
    assert broken.json()["error"] == "internal_error" and "detail" not in broken.text


@pytest.fixture
async def oauth(start_service, sandbox_url):
    return await start_service(
        OAUTH,
        LWA_ENDPOINT=f"{sandbox_url}/auth/o2/token",
        SELLER_CENTRAL_URL=sandbox_url,
    )


@pytest.mark.parametrize("payload, fragment", HOSTILE, ids=HOSTILE_IDS)
async def test_oauth_start_refuses_hostile_bodies_with_400(oauth, payload, fragment):
    token = issue_token(DEV_JWT_SECRET, "u", ["kbz-001"])
    headers = {**JSON, "Authorization": f"Bearer {token}", "X-Tenant-Id": "kbz-001"}
    async with oauth.client() as http:
        response = await http.post(
            "/api/v1/marketplaces/amazon/oauth/start", content=payload, headers=headers
        )
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]
    rows = await oauth.runtime.pool.fetchval("SELECT count(*) FROM oauth_states")
    assert rows == 0
