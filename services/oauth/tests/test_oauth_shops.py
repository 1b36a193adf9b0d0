"""Connecting a Fnac or Darty shop over HTTP: the oauth service on real OpenBao,
PostgreSQL and NATS, checking the credentials with the sandbox's Fnac double.

What is asserted is what anyone could observe: the answers, Vault's contents, the rows,
the events on JetStream, and the logs, where the key must never appear."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from keybuzz_devstack.testing import NOWHERE, eventually
from keybuzz_shared.events import ConnectionReauthRequired
from keybuzz_shared.logs import JsonFormatter
from keybuzz_shared.messaging import publish_event
from oauth_testkit import (
    FNAC_API,
    OauthKit,
    database_dump,
    find_event,
    new_tenant,
    read_secret,
    root_vault,
)


def shop_path(tenant: str, marketplace: str = "fnac") -> str:
    return f"secret/keybuzz/tenants/{tenant}/{marketplace}_api"


async def sandbox_shops(sandbox: str, marketplace: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{sandbox}/_sandbox/fnac/shops")
    assert response.status_code == 200, response.text
    return [s for s in response.json() if s["marketplace"] == marketplace]


def body(shop: dict[str, Any], **changes: str) -> dict[str, str]:
    return {
        "partnerId": shop["partner_id"],
        "shopId": shop["shop_id"],
        "key": shop["key"],
    } | changes


@pytest.fixture
async def fnac_shop(sandbox_url: str) -> dict[str, Any]:
    return (await sandbox_shops(sandbox_url, "FNAC"))[0]


@pytest.fixture
async def fnac_faults(
    sandbox_url: str,
) -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[None]]]:
    """Arms the double's faults; cleared afterwards (the sandbox serves the whole session)."""
    url = f"{sandbox_url}/_sandbox/fnac/faults"
    async with httpx.AsyncClient(timeout=10) as http:

        async def arm(faults: dict[str, Any]) -> None:
            response = await http.put(url, json=faults)
            assert response.status_code == 200, response.text

        try:
            yield arm
        finally:
            assert (await http.delete(url)).status_code == 204


async def shop_api(
    kit: OauthKit, method: str, path: str, tenant: str, **kwargs: Any
) -> httpx.Response:
    """``/api/v1/marketplaces/<path>`` as an agent of ``tenant``."""
    headers = {**kit.headers(tenant), **kwargs.pop("headers", {})}
    async with kit.service.client() as http:
        return await http.request(method, f"/api/v1/marketplaces/{path}", headers=headers, **kwargs)


async def outbox(kit: OauthKit, tenant: str) -> list[str]:
    rows = await kit.runtime.pool.fetch(
        "SELECT subject FROM event_outbox WHERE partition_key = $1 ORDER BY id",
        tenant,
    )
    return [row["subject"] for row in rows]


async def shop_row(kit: OauthKit, tenant: str, marketplace: str = "FNAC") -> Any:
    return await kit.runtime.pool.fetchrow(
        "SELECT * FROM marketplace_connections WHERE tenant_id = $1 AND marketplace_type = $2",
        tenant,
        marketplace,
    )


async def test_a_fnac_shop_connects_and_its_key_is_in_vault_only(
    shop_kit: OauthKit, fnac_shop: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="uvicorn.access")
    tenant, key = new_tenant(), fnac_shop["key"]
    answer = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=body(fnac_shop))
    assert answer.status_code == 200, answer.text
    connected = answer.json()
    assert (connected["status"], connected["marketplaceType"], connected["shopId"]) == (
        "CONNECTED",
        "FNAC",
        fnac_shop["shop_id"].upper(),
    )

    secret = read_secret(shop_kit.stack, shop_path(tenant))
    assert secret is not None
    assert (secret["partner_id"], secret["shop_id"], secret["key"]) == (
        fnac_shop["partner_id"].upper(),
        fnac_shop["shop_id"].upper(),
        key,
    )
    row = await shop_row(shop_kit, tenant)
    assert (row["status"], row["seller_id"], row["vault_path"]) == (
        "CONNECTED",
        fnac_shop["shop_id"].upper(),
        shop_path(tenant),
    )
    event = await find_event(await shop_kit.operator_js(), "connection.connected", tenant)
    assert (event["marketplace"], event["sellerId"], event["connectionId"]) == (
        "FNAC",
        fnac_shop["shop_id"].upper(),
        str(row["id"]),
    )
    status = await shop_api(shop_kit, "GET", "fnac/status", tenant)
    assert status.json()["status"] == "CONNECTED" and status.json()["credentialsVerified"]
    assert (await shop_api(shop_kit, "GET", "darty/status", tenant)).json()["status"] == (
        "NOT_CONNECTED"
    )
    assert (await shop_kit.status(tenant))["status"] == "NOT_CONNECTED"  # Amazon's

    # The key is nowhere else: not in a table, an event, an answer or a log line.
    dump = await database_dump(shop_kit.runtime.pool)
    assert key not in dump and shop_path(tenant) in dump
    assert key not in str(event) and key not in answer.text + status.text
    formatter = JsonFormatter("test")
    for record in caplog.records:
        assert key not in f"{record.getMessage()} {record.__dict__}", record.name
        assert key not in formatter.format(record), record.name
    assert any("shop connected" in r.getMessage() for r in caplog.records)


async def test_a_wrong_key_is_refused_clearly_and_stores_nothing(
    shop_kit: OauthKit, fnac_shop: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant, wrong = new_tenant(), "Wr0ng-" + fnac_shop["key"][::-1]
    for typed in (body(fnac_shop, key=wrong), body(fnac_shop, shopId=_other_uuid())):
        answer = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=typed)
        assert answer.status_code == 422, answer.text
        assert "Fnac refused these credentials" in answer.json()["message"]
        assert wrong not in answer.text
    assert read_secret(shop_kit.stack, shop_path(tenant)) is None
    assert await shop_row(shop_kit, tenant) is None and await outbox(shop_kit, tenant) == []
    assert all(wrong not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_fnac_unreachable_is_a_503_with_retry_after_and_stores_nothing(
    make_kit: Callable[..., Awaitable[OauthKit]], fnac_shop: dict[str, Any]
) -> None:
    kit = await make_kit(FNAC_API_URL=NOWHERE + FNAC_API)
    tenant = new_tenant()
    answer = await shop_api(kit, "POST", "fnac/connection", tenant, json=body(fnac_shop))
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    assert "Fnac did not answer" in answer.json()["message"]
    assert fnac_shop["key"] not in answer.text
    assert read_secret(kit.stack, shop_path(tenant)) is None
    assert await shop_row(kit, tenant) is None and await outbox(kit, tenant) == []


async def test_a_shop_connected_to_one_tenant_is_refused_to_another(
    shop_kit: OauthKit, fnac_shop: dict[str, Any]
) -> None:
    first, second = new_tenant(), new_tenant()
    ok = await shop_api(shop_kit, "POST", "fnac/connection", first, json=body(fnac_shop))
    assert ok.status_code == 200, ok.text
    lower = body(fnac_shop, shopId=fnac_shop["shop_id"].lower())  # the same shop, spelt otherwise
    taken = await shop_api(shop_kit, "POST", "fnac/connection", second, json=lower)
    assert taken.status_code == 409, taken.text
    assert first not in taken.text and "another KeyBuzz account" in taken.json()["message"]
    assert read_secret(shop_kit.stack, shop_path(second)) is None
    assert await shop_row(shop_kit, second) is None
    # Freed by a disconnect, the shop can go to the second tenant.
    assert (await shop_api(shop_kit, "DELETE", "fnac/connection", first)).status_code == 200
    moved = await shop_api(shop_kit, "POST", "fnac/connection", second, json=body(fnac_shop))
    assert moved.status_code == 200, moved.text
    await shop_api(shop_kit, "DELETE", "fnac/connection", second)


async def test_a_rotated_key_replaces_the_old_one_and_the_old_one_is_refused(
    shop_kit: OauthKit, sandbox_url: str
) -> None:
    [shop] = [s for s in await sandbox_shops(sandbox_url, "FNAC") if "Librairie" in s["name"]]
    tenant = new_tenant()
    first = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=body(shop))
    assert first.status_code == 200, first.text
    row = await shop_row(shop_kit, tenant)
    async with httpx.AsyncClient(timeout=10) as http:
        rotated = await http.post(f"{sandbox_url}/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["key"]

    stale = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=body(shop))
    assert stale.status_code == 422  # Fnac no longer takes the old key; nothing changes
    assert read_secret(shop_kit.stack, shop_path(tenant))["key"] == shop["key"]
    again = await shop_api(
        shop_kit, "POST", "fnac/connection", tenant, json=body(shop, key=new_key)
    )
    assert again.status_code == 200, again.text
    assert read_secret(shop_kit.stack, shop_path(tenant))["key"] == new_key
    assert _vault_versions(shop_kit, tenant) == 2
    now = await shop_row(shop_kit, tenant)
    assert now["id"] == row["id"] and now["connected_at"] > row["connected_at"]
    assert await outbox(shop_kit, tenant) == ["connection.connected"] * 2
    assert new_key not in await database_dump(shop_kit.runtime.pool)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"failNext": 5, "failStatus": 503}, 503),
        ({"malformedNext": 5, "malformedKind": "entities"}, 502),
        # A DTD written in UTF-7: no "<!" among the bytes; its entity stands for the token.
        ({"malformedNext": 5, "malformedKind": "utf7-entities"}, 502),
    ],
    ids=["fnac-503", "fnac-entities", "fnac-utf7-entities"],
)
async def test_a_failing_fnac_stores_nothing(
    shop_kit: OauthKit,
    fnac_shop: dict[str, Any],
    fnac_faults: Callable[[dict[str, Any]], Awaitable[None]],
    fault: dict[str, Any],
    status: int,
) -> None:
    await fnac_faults({**fault, "operations": ["auth"]})
    tenant = new_tenant()
    answer = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=body(fnac_shop))
    assert answer.status_code == status, answer.text
    assert ("retry-after" in answer.headers) == (status == 503)
    assert "nothing was connected" in answer.json()["message"]
    assert read_secret(shop_kit.stack, shop_path(tenant)) is None
    assert await shop_row(shop_kit, tenant) is None and await outbox(shop_kit, tenant) == []


async def test_a_darty_shop_connects_as_darty_and_disconnects(
    shop_kit: OauthKit, sandbox_url: str
) -> None:
    darty = (await sandbox_shops(sandbox_url, "DARTY"))[0]
    tenant = new_tenant()
    answer = await shop_api(shop_kit, "POST", "darty/connection", tenant, json=body(darty))
    assert answer.status_code == 200, answer.text
    assert answer.json()["marketplaceType"] == "DARTY"
    assert read_secret(shop_kit.stack, shop_path(tenant, "darty"))["key"] == darty["key"]
    event = await find_event(await shop_kit.operator_js(), "connection.connected", tenant)
    assert event["marketplace"] == "DARTY"

    ended = await shop_api(shop_kit, "DELETE", "darty/connection", tenant)
    assert ended.status_code == 200 and ended.json()["status"] == "DISCONNECTED"
    assert read_secret(shop_kit.stack, shop_path(tenant, "darty")) is None
    row = await shop_row(shop_kit, tenant, "DARTY")
    assert (row["status"], row["vault_path"]) == ("DISCONNECTED", None)
    gone = await find_event(await shop_kit.operator_js(), "connection.disconnected", tenant)
    assert (gone["marketplace"], gone["sellerId"]) == ("DARTY", darty["shop_id"].upper())
    again = await shop_api(shop_kit, "DELETE", "darty/connection", tenant)
    assert again.status_code == 200 and again.json()["status"] == "DISCONNECTED"
    assert await outbox(shop_kit, tenant) == ["connection.connected", "connection.disconnected"]
    never = await shop_api(shop_kit, "DELETE", "fnac/connection", tenant)
    assert never.status_code == 404


@pytest.mark.parametrize(
    "typed",
    [
        {"partnerId": "not-a-uuid"},
        {"shopId": "11111111-2222-3333-4444-55555555555\n"},
        {"key": ""},
        {"key": "has a space"},
        {"key": "x" * 257},
        {"unexpected": "field"},
    ],
    ids=["partner", "shop-newline", "empty-key", "space-key", "long-key", "unknown-field"],
)
async def test_a_malformed_body_is_a_400_that_never_quotes_the_key(
    shop_kit: OauthKit, fnac_shop: dict[str, Any], typed: dict[str, str]
) -> None:
    tenant = new_tenant()
    sent = body(fnac_shop) | typed
    answer = await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=sent)
    assert answer.status_code == 400, answer.text
    assert sent["key"] not in answer.text or not sent["key"]
    assert await shop_row(shop_kit, tenant) is None


async def test_not_json_or_no_body_is_a_400(shop_kit: OauthKit) -> None:
    tenant = new_tenant()
    for content in (b"{not json", b"", b"[]"):
        answer = await shop_api(
            shop_kit,
            "POST",
            "fnac/connection",
            tenant,
            content=content,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 400, (content, answer.text)


async def test_an_agent_reaches_only_its_own_tenants_shop(
    shop_kit: OauthKit, fnac_shop: dict[str, Any]
) -> None:
    mine, theirs = new_tenant(), new_tenant()
    as_mine = {**shop_kit.headers(mine), "X-Tenant-Id": theirs}
    for method, path in (
        ("POST", "fnac/connection"),
        ("GET", "fnac/status"),
        ("DELETE", "darty/connection"),
    ):
        answer = await shop_api(
            shop_kit, method, path, theirs, headers=as_mine, json=body(fnac_shop)
        )
        assert answer.status_code == 403, (method, path, answer.text)
    anonymous = await shop_api(
        shop_kit, "POST", "fnac/connection", theirs, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert await shop_row(shop_kit, theirs) is None


async def test_a_refused_key_reported_by_another_service_marks_the_shop(
    shop_kit: OauthKit, fnac_shop: dict[str, Any]
) -> None:
    tenant = new_tenant()
    await shop_api(shop_kit, "POST", "fnac/connection", tenant, json=body(fnac_shop))
    event = ConnectionReauthRequired(
        tenant_id=tenant,
        marketplace="FNAC",
        seller_id=fnac_shop["shop_id"].upper(),
        reason="Fnac refused the shop's credentials: ERR_001",
    )
    await publish_event(shop_kit.runtime.js, event)

    async def marked() -> Any:
        status = (await shop_api(shop_kit, "GET", "fnac/status", tenant)).json()
        return status if status["status"] == "REAUTH_REQUIRED" else None

    status = await eventually(marked)
    assert "ERR_001" in status["lastError"]
    await shop_api(shop_kit, "DELETE", "fnac/connection", tenant)


def _other_uuid() -> str:
    return "0F0F0F0F-0F0F-4F0F-8F0F-0F0F0F0F0F0F"


def _vault_versions(kit: OauthKit, tenant: str) -> int:
    meta = root_vault(kit.stack).secrets.kv.v2.read_secret_metadata(
        path=shop_path(tenant).removeprefix("secret/"), mount_point="secret"
    )
    return int(meta["data"]["current_version"])
