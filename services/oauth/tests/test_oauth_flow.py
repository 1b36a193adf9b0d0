"""The website authorization flow end to end: oauth service ↔ Amazon sandbox ↔ OpenBao."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET
from oauth_testkit import (
    FR,
    SELLER,
    callback_query,
    find_event,
    frontend_result,
    new_tenant,
    read_secret,
    root_vault,
    tenant_path,
)


async def test_start_builds_the_consent_url(kit, sandbox_url):
    tenant = new_tenant()
    started = await kit.start(tenant, "FR")

    url = urlsplit(started["authUrl"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == sandbox_url  # SELLER_CENTRAL_URL overrides the host
    assert url.path == "/apps/authorize/consent"
    assert query == {
        "application_id": "amzn1.sp.solution.keybuzz-sandbox",
        "state": started["state"],
        "redirect_uri": kit.service.url + "/api/v1/marketplaces/amazon/oauth/callback",
        "version": "beta",  # the app credential says draft
    }
    assert len(started["state"]) >= 40 and started["marketplaceId"] == FR
    # Only a hash of the state is stored.
    rows = await kit.runtime.pool.fetch("SELECT state_hash FROM oauth_states")
    assert [r["state_hash"] for r in rows] != [started["state"]] and len(rows) == 1
    assert (await kit.status(tenant))["status"] == "PENDING"


async def test_seller_central_host_follows_the_marketplace(make_kit):
    kit = await make_kit(SELLER_CENTRAL_URL="", AMAZON_APP_DRAFT="false")
    fr = await kit.start(new_tenant(), "FR")
    de = await kit.start(new_tenant(), "de")
    assert fr["authUrl"].startswith("https://sellercentral.amazon.fr/apps/authorize/consent?")
    assert de["authUrl"].startswith("https://sellercentral.amazon.de/apps/authorize/consent?")
    assert "version=beta" not in fr["authUrl"]  # AMAZON_APP_DRAFT=false wins over the credential


async def test_unknown_marketplace_is_a_400(kit):
    response = await kit.api("POST", "/oauth/start", new_tenant(), json={"marketplace": "ZZ"})
    assert response.status_code == 400
    assert "unknown Amazon marketplace 'ZZ'" in response.json()["message"]


async def test_browser_flow_connects_and_emits_connected(kit, stack):
    tenant = new_tenant()
    started = await kit.start(tenant, "FR")
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(started["authUrl"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    callback_url = await kit.consent(started["authUrl"])
    assert callback_query(callback_url)["selling_partner_id"] == SELLER

    assert frontend_result(await kit.follow(callback_url)) == {"status": "connected"}

    status = await kit.status(tenant)
    assert status["status"] == "CONNECTED" and status["sellerId"] == SELLER
    assert status["marketplaces"] == [{"code": "FR", "id": FR}] and status["region"] == "eu"
    assert status["credentialsVerified"] is True and status["connectedAt"]

    secret = read_secret(stack, tenant_path(tenant))
    assert secret is not None and secret["refresh_token"].startswith("Atzr|")
    assert {k: secret[k] for k in ("seller_id", "marketplace_id", "region")} == {
        "seller_id": SELLER,
        "marketplace_id": FR,
        "region": "eu",
    }
    assert secret["created_at"]

    row = await kit.row(tenant)
    assert row["vault_path"] == tenant_path(tenant) and row["connected_by"] == "user-1"
    assert secret["refresh_token"] not in repr(dict(row))

    event = await find_event(await kit.operator_js(), "connection.connected", tenant)
    assert event["sellerId"] == SELLER and event["marketplaceIds"] == [FR]
    assert event["region"] == "eu" and event["connectionId"] == str(row["id"])
    assert "Atz" not in repr(event)


async def test_callback_answers_json_when_asked(kit):
    tenant = new_tenant()
    started = await kit.start(tenant)
    response = await kit.follow(await kit.consent(started["authUrl"]), accept="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "status": "connected",
        "tenantId": tenant,
        "sellerId": SELLER,
        "marketplaceIds": [FR],
    }


async def test_reused_state_is_refused_without_a_second_exchange(kit):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    assert frontend_result(await kit.follow(callback_url))["status"] == "connected"

    replay = frontend_result(await kit.follow(callback_url))
    # Had the code gone to LWA again, the reason would be authorization_code_rejected.
    assert replay == {"status": "error", "reason": "state_already_used"}
    assert (await kit.status(tenant))["status"] == "CONNECTED"


async def test_concurrent_callbacks_with_one_state_connect_once(kit):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    answers = await asyncio.gather(*(kit.follow(callback_url) for _ in range(5)))
    results = sorted(frontend_result(a).get("reason", "connected") for a in answers)
    assert results == ["connected"] + ["state_already_used"] * 4


async def test_forged_state_is_refused(kit):
    tenant = new_tenant()
    await kit.start(tenant)
    forged = (
        f"{kit.service.url}/api/v1/marketplaces/amazon/oauth/callback?state=forged-state-value"
        f"&selling_partner_id={SELLER}&spapi_oauth_code=ANforged"
    )
    assert frontend_result(await kit.follow(forged)) == {
        "status": "error",
        "reason": "invalid_state",
    }
    no_state = await kit.follow(
        forged.replace("state=forged-state-value&", ""), accept="application/json"
    )
    assert no_state.status_code == 400 and no_state.json()["reason"] == "invalid_state"
    assert (await kit.status(tenant))["status"] == "PENDING"


async def test_expired_state_is_refused(make_kit, stack):
    kit = await make_kit(OAUTH_STATE_TTL_SECONDS="0.5")
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    await asyncio.sleep(0.7)
    answer = await kit.follow(callback_url, accept="application/json")
    assert answer.status_code == 400 and answer.json()["reason"] == "state_expired"
    assert read_secret(stack, tenant_path(tenant)) is None
    # Nobody can finish it now: reported as not connected.
    assert (await kit.status(tenant))["status"] == "NOT_CONNECTED"


async def test_seller_declining_is_reported(kit, stack):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"], action="cancel")
    assert callback_query(callback_url)["error"] == "access_denied"

    assert frontend_result(await kit.follow(callback_url)) == {
        "status": "error",
        "reason": "access_denied",
    }
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "access_denied" in status["lastError"]
    assert read_secret(stack, tenant_path(tenant)) is None


async def test_code_refused_by_lwa_is_not_connected(kit, stack):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    # Someone redeemed the single-use code first (or it expired): LWA says invalid_grant.
    async with httpx.AsyncClient(timeout=10) as http:
        stolen = await http.post(
            f"{kit.sandbox}/auth/o2/token",
            data={
                "grant_type": "authorization_code",
                "code": callback_query(callback_url)["spapi_oauth_code"],
                "client_id": "amzn1.application-oa2-client.keybuzz-sandbox",
                "client_secret": "keybuzz-sandbox-secret",
                "redirect_uri": kit.service.url + CALLBACK_PATH,  # LWA requires it
            },
        )
    assert stolen.status_code == 200

    answer = frontend_result(await kit.follow(callback_url))
    assert answer == {"status": "error", "reason": "authorization_code_rejected"}
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "authorization code" in status["lastError"]
    assert read_secret(stack, tenant_path(tenant)) is None


async def test_disconnect_deletes_credentials_and_emits(kit, stack):
    tenant = new_tenant()
    assert frontend_result(await kit.connect(tenant))["status"] == "connected"
    connection_id = str((await kit.row(tenant))["id"])

    response = await kit.api("DELETE", "/connection", tenant)
    assert response.status_code == 200 and response.json()["status"] == "DISCONNECTED"
    assert read_secret(stack, tenant_path(tenant)) is None
    assert (await kit.status(tenant))["status"] == "DISCONNECTED"
    assert (await kit.row(tenant))["vault_path"] is None

    event = await find_event(await kit.operator_js(), "connection.disconnected", tenant)
    assert event["connectionId"] == connection_id and event["sellerId"] == SELLER

    again = await kit.api("DELETE", "/connection", tenant)  # idempotent, no second event
    assert again.status_code == 200 and again.json()["status"] == "DISCONNECTED"
    outbox = await kit.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE subject = 'connection.disconnected'"
    )
    assert outbox == 1
    missing = await kit.api("DELETE", "/connection", new_tenant())
    assert missing.status_code == 404


async def test_status_reports_credentials_missing_from_vault(kit, stack):
    """Seed 003: CONNECTED in the database, nothing in Vault, found only at backfill time."""
    tenant = new_tenant()
    await kit.connect(tenant)
    root_vault(stack).secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"keybuzz/tenants/{tenant}/amazon_spapi", mount_point="secret"
    )
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and status["credentialsVerified"] is False
    assert tenant in status["lastError"] and tenant_path(tenant) in status["lastError"]
    assert (await kit.status(new_tenant()))["status"] == "NOT_CONNECTED"


async def test_missing_app_credentials_are_said_at_startup_and_start(start_service, caplog):
    service = await start_service(OAUTH, AMAZON_APP_SOURCE="absent")
    path = "secret/keybuzz/amazon_spapi/app/absent"
    logged = [r for r in caplog.records if r.levelname == "ERROR" and path in str(r.__dict__)]
    assert logged, "start-up did not say the app credentials are missing"
    tenant = new_tenant()
    headers = {
        "Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'u', [tenant])}",
        "X-Tenant-Id": tenant,
    }
    async with service.client() as http:
        response = await http.post("/api/v1/marketplaces/amazon/oauth/start", headers=headers)
    assert response.status_code == 503
    assert (
        path in response.json()["message"]
        and "AMAZON_APP_SOURCE=absent" in response.json()["message"]
    )


async def test_redirect_without_code_is_refused(kit):
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    code = callback_query(callback_url)["spapi_oauth_code"]
    answer = frontend_result(
        await kit.follow(callback_url.replace(f"&spapi_oauth_code={code}", ""))
    )
    assert answer == {"status": "error", "reason": "missing_parameters"}
    assert (await kit.status(tenant))["status"] == "ERROR"


async def test_control_characters_in_amazons_error_are_recorded_not_a_500(kit, stack):
    """Issue 10 §4: %00 in error_description made PostgreSQL refuse the failure record."""
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"], action="cancel")
    description = callback_query(callback_url)["error_description"]
    hostile = callback_url.replace(
        urlencode({"error_description": description}),
        "error_description=seller%00said%20no%0A%ff%ED%A0%80",
    )
    assert hostile != callback_url

    assert frontend_result(await kit.follow(hostile)) == {
        "status": "error",
        "reason": "access_denied",
    }
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "seller said no" in status["lastError"]
    assert "\x00" not in status["lastError"] and "\n" not in status["lastError"]
    assert read_secret(stack, tenant_path(tenant)) is None


async def test_malformed_start_bodies_are_400(kit):
    tenant = new_tenant()
    deep = b'{"marketplace": "FR", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body in (deep, b'{"marketplace": "\xff\xfe"}', b'{"marketplace": "FR"', b"[1]"):
        response = await kit.api(
            "POST",
            "/oauth/start",
            tenant,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (body[:40], response.status_code, response.text)
        assert response.json()["error"] == "bad_request"
    assert (await kit.status(tenant))["status"] == "NOT_CONNECTED"
