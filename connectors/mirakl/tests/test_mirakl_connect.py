"""Connecting a shop of a Mirakl operator over HTTP through oauth's generic connection
endpoints (POST /api/v1/marketplaces/<operator>/connection), on real OpenBao, PostgreSQL
and NATS, the API key checked against the sandbox's Mirakl double before anything is
stored: the key in Vault only, connection.connected with the operator as marketplace, one
tenant connecting several operators, one shop of one operator for one tenant."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_devstack.shop_api_testing import as_agent, start_quiet_poller
from keybuzz_devstack.shop_api_testing import marketplaces_api as call
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_double_mirakl import MiraklDoubleSettings, service_env
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.connectors import registry
from keybuzz_shared.vault import VaultClient
from mirakl_connector_helpers import admin, operators, serve_double, shop_client
from nats.js.api import ConsumerConfig, DeliverPolicy

StartService = Callable[..., Awaitable[RunningService]]


def path_of(tenant: str, code: str) -> str:
    return f"secret/keybuzz/tenants/{tenant}/mirakl_{code.lower()}_api"


def new_tenant() -> str:
    return f"mk-{uuid.uuid4().hex[:10]}"


def form(shop: dict[str, Any], **changed: str) -> dict[str, str]:
    return {"apiKey": shop["apiKey"], "shopId": str(shop["shopId"])} | changed


@pytest.fixture
async def double() -> AsyncIterator[str]:
    """The double, with one extra shop at each operator: the same shop id at every one."""
    async for url in serve_double(doubles=(MiraklDoubleSettings(extra_shops=1),)):
        yield url


@pytest.fixture
async def oauth(start_service: StartService, double: str) -> RunningService:
    await admin(double, "PUT", "/limits", json={"enforced": False})
    return await start_service(OAUTH, **service_env(double))


async def connected_events(oauth: RunningService, tenant: str, count: int) -> list[Any]:
    """The first ``count`` connection.connected events of ``tenant``, in order."""
    js = (await oauth.operator()).jetstream()
    sub = await js.pull_subscribe(
        "connection.connected",
        stream="CONNECTIONS",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    found: list[Any] = []
    try:
        async with asyncio.timeout(10):
            while len(found) < count:
                with contextlib.suppress(TimeoutError):
                    for msg in await sub.fetch(256, timeout=0.5):
                        body = msgspec.json.decode(msg.data)
                        if body.get("tenantId") == tenant:
                            found.append(body)
    finally:
        await sub.unsubscribe()
    return found


async def rows_of(oauth: RunningService, tenant: str) -> list[Any]:
    return list(
        await oauth.runtime.pool.fetch(
            "SELECT * FROM marketplace_connections WHERE tenant_id = $1 ORDER BY marketplace_type",
            tenant,
        )
    )


async def test_one_tenant_connects_two_operators_keys_in_vault_only(
    oauth: RunningService,
    vault: VaultClient,
    double: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    listed, tenant = await operators(double), new_tenant()
    shops = {code: listed[code]["shops"][0] for code in ("BOULANGER", "DECATHLON")}
    answers = []
    for code, shop in shops.items():
        answer = await call(oauth, "POST", f"{code.lower()}/connection", tenant, json=form(shop))
        assert answer.status_code == 200, answer.text
        assert (answer.json()["marketplaceType"], answer.json()["shopId"]) == (
            code,
            str(shop["shopId"]),
        )
        stored = await vault.read(path_of(tenant, code)) or {}
        assert (stored.get("api_key"), stored.get("shop_id")) == (
            shop["apiKey"],
            str(shop["shopId"]),
        )
        answers.append(answer.text)
    events = await connected_events(oauth, tenant, 2)
    assert [(e["marketplace"], e["sellerId"]) for e in events] == [
        (code, str(shop["shopId"])) for code, shop in shops.items()
    ]
    answers += [str(e) for e in events]
    assert [(r["marketplace_type"], r["status"]) for r in await rows_of(oauth, tenant)] == [
        ("BOULANGER", "CONNECTED"),
        ("DECATHLON", "CONNECTED"),
    ]
    pool = oauth.runtime.pool
    everything = repr([dict(r) for r in await pool.fetch("SELECT * FROM marketplace_connections")])
    for shop in shops.values():
        key = shop["apiKey"]
        assert key not in everything and all(key not in a for a in answers)
        assert all(key not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_a_wrong_key_or_another_users_shop_is_refused_and_nothing_stored(
    oauth: RunningService, vault: VaultClient, double: str
) -> None:
    listed, tenant = await operators(double), new_tenant()
    boulanger, leroy = listed["BOULANGER"]["shops"][0], listed["LEROY_MERLIN"]["shops"][0]
    wrong = str(uuid.uuid4())
    for code, typed in (
        ("boulanger", form(boulanger, apiKey=wrong)),
        # Leroy Merlin's key does not open Boulanger's shop (another instance, 401), and
        # Boulanger's key does not open a Leroy Merlin shop id (403).
        ("boulanger", form(boulanger, apiKey=leroy["apiKey"])),
        ("leroy_merlin", form(leroy, apiKey=boulanger["apiKey"])),
    ):
        answer = await call(oauth, "POST", f"{code}/connection", tenant, json=typed)
        assert answer.status_code == 422, answer.text
        assert wrong not in answer.text and boulanger["apiKey"] not in answer.text
    assert await vault.read(path_of(tenant, "BOULANGER")) is None
    assert await rows_of(oauth, tenant) == []


async def test_a_key_of_several_shops_connects_the_shop_named(
    oauth: RunningService, double: str
) -> None:
    """Leroy Merlin's two seeded shops share one user's key: each shop id is its own
    connection; one tenant's shop cannot be connected by another tenant."""
    leroy = (await operators(double))["LEROY_MERLIN"]["shops"]
    assert leroy[0]["apiKey"] == leroy[1]["apiKey"]
    first, second = new_tenant(), new_tenant()
    for tenant, shop in ((first, leroy[0]), (second, leroy[1])):
        answer = await call(oauth, "POST", "leroy_merlin/connection", tenant, json=form(shop))
        assert answer.status_code == 200, answer.text
        assert answer.json()["shopId"] == str(shop["shopId"])
    taken = await call(oauth, "POST", "leroy_merlin/connection", second, json=form(leroy[0]))
    assert taken.status_code == 409, taken.text


async def test_one_shop_id_at_two_operators_is_two_shops(
    start_service: StartService, double: str
) -> None:
    """A shop's identity includes its instance: shop N at Boulanger and shop N at Leroy
    Merlin are two shops of two instances, each connected by its own tenant. (The double
    serves every operator on one host: Leroy Merlin's is reached here under another name of
    it, a host of its own as each operator's is in production.)"""
    entries = json.loads(service_env(double)["MIRAKL_CATALOGUE"])
    for entry in entries:
        if entry["code"] == "LEROY_MERLIN":
            entry["baseUrl"] = entry["baseUrl"].replace("127.0.0.1", "localhost", 1)
    await admin(double, "PUT", "/limits", json={"enforced": False})
    oauth = await start_service(OAUTH, MIRAKL_CATALOGUE=json.dumps(entries))
    listed = await operators(double)
    boulanger, leroy = (
        {shop["shopId"]: shop for shop in listed[code]["shops"]}
        for code in ("BOULANGER", "LEROY_MERLIN")
    )
    [number] = sorted(set(boulanger) & set(leroy))
    first, second = new_tenant(), new_tenant()
    for tenant, code, shop in (
        (first, "boulanger", boulanger[number]),
        (second, "leroy_merlin", leroy[number]),
    ):
        answer = await call(oauth, "POST", f"{code}/connection", tenant, json=form(shop))
        assert answer.status_code == 200, answer.text
        assert answer.json()["shopId"] == str(number)
    rows = [*await rows_of(oauth, first), *await rows_of(oauth, second)]
    assert [(r["marketplace_type"], r["seller_id"], r["status"]) for r in rows] == [
        ("BOULANGER", str(number), "CONNECTED"),
        ("LEROY_MERLIN", str(number), "CONNECTED"),
    ]
    assert rows[0]["account_identity"] != rows[1]["account_identity"]


@pytest.fixture
def listed_twice(double: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The double's catalogue with a second entry of its Decathlon instance (DECATHLON_EU:
    an operator renamed or listed twice), its address spelled otherwise (the host's case, a
    trailing slash): the services' settings, and the environment connectors() reads."""
    entries = json.loads(service_env(double)["MIRAKL_CATALOGUE"])
    [decathlon] = [e for e in entries if e["code"] == "DECATHLON"]
    scheme, _, rest = decathlon["baseUrl"].partition("://")
    again = f"{scheme.upper()}://{rest}/"
    entries.append({**decathlon, "code": "DECATHLON_EU", "name": "Decathlon EU", "baseUrl": again})
    env = {"MIRAKL_CATALOGUE": json.dumps(entries)}
    monkeypatch.setenv("MIRAKL_CATALOGUE", env["MIRAKL_CATALOGUE"])
    registry.refresh()
    yield env
    monkeypatch.delenv("MIRAKL_CATALOGUE")
    registry.refresh()


async def outbox_of(oauth: RunningService, tenant: str) -> list[str]:
    """The events oauth said for ``tenant``: the poller and orders serve a shop only once
    ``connection.connected`` says it."""
    rows = await oauth.runtime.pool.fetch(
        "SELECT subject FROM event_outbox WHERE partition_key = $1 ORDER BY id", tenant
    )
    return [row["subject"] for row in rows]


async def test_one_shop_under_two_catalogue_entries_of_its_instance_is_refused_to_a_second_tenant(
    start_service: StartService,
    dovecot: MailServer,
    vault: VaultClient,
    double: str,
    listed_twice: dict[str, str],
) -> None:
    """A shop's identity is its instance's host and its id, whatever the catalogue calls
    the instance: tenant B typing tenant A's Decathlon key and shop id under DECATHLON_EU is
    refused as for any shop another tenant holds, and is given nothing (no row, no key, no
    connection.connected; the poller, which polls A's shop, holds none of B's, and B's
    tickets list nothing of A's buyers)."""
    await admin(double, "PUT", "/limits", json={"enforced": False})
    oauth = await start_service(OAUTH, **listed_twice)
    poller = await start_quiet_poller(start_service, POLLER, dovecot, listed_twice)
    shop = (await operators(double))["DECATHLON"]["shops"][0]
    owner, intruder = new_tenant(), new_tenant()
    held = await call(oauth, "POST", "decathlon/connection", owner, json=form(shop))
    assert held.status_code == 200, held.text
    for typed in (form(shop), form(shop, shopId=f"00{shop['shopId']}")):
        taken = await call(oauth, "POST", "decathlon_eu/connection", intruder, json=typed)
        assert taken.status_code == 409, taken.text
        assert owner not in taken.text and shop["apiKey"] not in taken.text
    assert await rows_of(oauth, intruder) == []
    assert await vault.read(path_of(intruder, "DECATHLON_EU")) is None
    assert await outbox_of(oauth, intruder) == []
    assert await outbox_of(oauth, owner) == ["connection.connected"]
    # The owner's own shop under the second entry is the same shop: connected once.
    again = await call(oauth, "POST", "decathlon_eu/connection", owner, json=form(shop))
    assert again.status_code == 409 and "Decathlon" in again.json()["message"], again.text
    [row] = await rows_of(oauth, owner)
    assert row["account_identity"] == f"mirakl@{httpx.URL(double).netloc.decode()}:{shop['shopId']}"
    # A's shop polled, a buyer's new thread stored as A's; B has no shop and no ticket.
    written = await admin(
        double,
        "POST",
        f"/operators/DECATHLON/shops/{shop['shopId']}/threads",
        json={"body": "Et ma commande ?"},
    )

    async def polled_shops() -> list[str] | None:
        keys = await poller.runtime.pool.fetch("SELECT poll_key FROM poller_shops")
        found = [k["poll_key"] for k in keys if k["poll_key"].endswith((owner, intruder))]
        return found or None

    assert await eventually(polled_shops) == [f"DECATHLON:{owner}"]
    assert (
        await poller.runtime.component(ShopScheduler).poll_now(f"DECATHLON:{owner}")
    ).stored >= 1
    for tenant, count in ((owner, 1), (intruder, 0)):
        params = {"orderId": written["orderId"]}
        tickets = await as_agent(poller, "GET", "/api/v1/tickets/", tenant, params=params)
        assert len(tickets.json()["items"]) == count, tickets.text
    assert await polled_shops() == [f"DECATHLON:{owner}"]


async def test_a_key_off_its_format_is_refused_before_any_call(
    oauth: RunningService, double: str
) -> None:
    shop = (await operators(double))["BOULANGER"]["shops"][0]
    answer = await call(
        oauth, "POST", "boulanger/connection", new_tenant(), json=form(shop, apiKey="not a key")
    )
    assert answer.status_code == 400, answer.text
    assert "apiKey" in answer.text and "printable ASCII" in answer.text


async def test_the_catalogue_lists_each_operator_as_a_marketplace(oauth: RunningService) -> None:
    answer = await call(oauth, "GET", "", new_tenant())
    assert answer.status_code == 200, answer.text
    listed = {m["marketplace"]: m for m in answer.json()["marketplaces"]}
    for code, name in (("boulanger", "Boulanger"), ("leroy_merlin", "Leroy Merlin")):
        assert (listed[code]["displayName"], listed[code]["connectionKind"]) == (
            name,
            "credentials",
        )
        assert [(f["name"], f["secret"]) for f in listed[code]["fields"]] == [
            ("apiKey", True),
            ("shopId", False),
        ]


async def test_the_check_spends_none_of_the_shops_polling_allowance(
    oauth: RunningService, double: str
) -> None:
    """M11 is allowed once a minute: a check spending it would throttle the shop's first
    poll, and a reconnection while the shop is polled would be refused."""
    await admin(double, "PUT", "/limits", json={"enforced": True})
    operator = (await operators(double))["DECATHLON"]
    shop = operator["shops"][0]
    answer = await call(oauth, "POST", "decathlon/connection", new_tenant(), json=form(shop))
    assert answer.status_code == 200, answer.text
    async with httpx.AsyncClient(timeout=10) as http:
        client = shop_client(http, operator["baseUrl"], shop, "DECATHLON", max_retry_after=0.1)
        assert "data" in await client.get_json("api/inbox/threads", operation="M11")  # no 429


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("redirect", "HTTP 302 redirect to another host (login.invalid)"),
        ("html", "an HTML page where JSON was expected"),
    ],
)
async def test_a_base_url_that_is_not_the_operators_api_connects_nothing_and_says_why(
    oauth: RunningService,
    vault: VaultClient,
    double: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    said: str,
) -> None:
    """A catalogue entry whose base URL redirects (a moved instance, a login page) or
    answers a web page: the seller is told the check failed, the log says why."""
    await admin(double, "PUT", "/faults", json={"malformedRate": 1.0, "malformedKind": kind})
    shop, tenant = (await operators(double))["BOULANGER"]["shops"][0], new_tenant()
    with caplog.at_level(logging.ERROR):
        answer = await call(oauth, "POST", "boulanger/connection", tenant, json=form(shop))
    assert answer.status_code == 502, answer.text
    assert "nothing was connected" in answer.json()["message"]
    reasons = [getattr(r, "reason", "") for r in caplog.records]
    assert any(said in reason and "BOULANGER" in reason for reason in reasons), reasons
    assert all(shop["apiKey"] not in reason for reason in reasons)
    assert await vault.read(path_of(tenant, "BOULANGER")) is None
