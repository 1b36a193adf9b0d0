"""The Back Market client against the double over HTTP: the headers Back Market requires
(every request checked against its description, conftest.Checked), the firewall's 403
held rather than read as a revoked token, a refused token never quoted, a 429's
Retry-After obeyed, and a message whose answer was lost not sent again."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from backmarket_connector_helpers import client_for
from keybuzz_connector_backmarket.connector import WAF_HOLD_SECONDS
from keybuzz_shared.connectors.seam import CallOutcomeUnknown, CallUnavailable, CredentialsRefused

MILANO = 4  # the double's smallest seeded shop


@pytest.fixture
async def shop(admin: httpx.AsyncClient) -> dict[str, Any]:
    return next(s for s in (await admin.get("/shops")).json() if s["number"] == MILANO)


@pytest.mark.parametrize("kind", ["html", "json"])
async def test_the_firewalls_403_is_held_and_retried_not_read_as_a_revoked_token(
    sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient, shop: Any, kind: str
) -> None:
    faults = {"wafNext": 1, "wafKind": kind, "operations": ["getCareFolderList"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    client = client_for(sandbox_url, http, shop)
    with pytest.raises(CallUnavailable) as held:
        await client.get_json("/ws/sav", {"page": "1"})
    assert not isinstance(held.value, CredentialsRefused)
    assert held.value.retry_after == WAF_HOLD_SECONDS and "firewall" in str(held.value)
    listed = await client.get_json("/ws/sav", {"page": "1"})  # later: the same call works
    assert listed["results"]


async def test_a_refused_token_is_credentials_refused_and_never_quoted(
    sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    wrong = shop | {"token": shop["token"][::-1] + "x"}
    with pytest.raises(CredentialsRefused) as refused:
        await client_for(sandbox_url, http, wrong).get_json("/ws/sav", {"page": "1"})
    assert wrong["token"] not in str(refused.value) and "401" in str(refused.value)


async def test_a_429_is_retried_after_its_retry_after_never_inside_it(
    sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    await admin.delete("/retry-after-violations")
    faults = {
        "failNext": 1,
        "failStatus": 429,
        "retryAfterSeconds": 1,
        "operations": ["getCareFolderList"],
    }
    assert (await admin.put("/faults", json=faults)).status_code == 200
    client = client_for(sandbox_url, http, shop)
    started = time.monotonic()
    listed = await client.get_json("/ws/sav", {"page": "1"})
    assert listed["results"] and time.monotonic() - started >= 1.0
    violations = (await admin.get("/retry-after-violations")).json()
    assert violations["count"] == 0, violations


async def test_a_message_whose_answer_is_lost_is_not_sent_again(
    sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    opened = (await admin.post(f"/shops/{MILANO}/folders", json={"message": "Bonjour"})).json()
    faults = {"malformedNext": 1, "malformedKind": "invalid_json", "operations": ["postMessage"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    text = f"Réponse perdue {opened['folderId']}"
    client = client_for(sandbox_url, http, shop)
    with pytest.raises(CallOutcomeUnknown):
        message = [("message", (None, text.encode(), None))]
        await client.post_multipart(f"/ws/sav/{opened['folderId']}/msg", message)
    sent = (await admin.get(f"/shops/{MILANO}/sent")).json()["sent"]
    assert [s["message"] for s in sent].count(text) == 1
