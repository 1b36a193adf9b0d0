"""Seller Central consent page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.config import config_from_env
from sandbox_helpers import APPLICATION_ID, CALLBACK, FR_SELLER, consent_params

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets


async def test_page_offers_seeded_sellers_with_stable_field_names(client) -> None:
    page = await client.get("/apps/authorize/consent", params=consent_params(redirect_uri=CALLBACK))
    assert page.status_code == 200
    for fragment in (
        'name="selling_partner_id"',
        'value="A12BCIS2R7HD4D"',
        'value="A3DESELLERBENCH"',
        'name="application_id"',
        'name="state" value="st-1"',
        'name="redirect_uri"',
        'name="version" value="beta"',
        'name="action" value="authorize"',
        'name="action" value="cancel"',
    ):
        assert fragment in page.text


async def test_authorize_redirects_with_state_seller_and_code(client) -> None:
    form = consent_params(redirect_uri=CALLBACK, selling_partner_id=FR_SELLER, action="authorize")
    response = await client.post("/apps/authorize/consent", data=form)
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"] and query["selling_partner_id"] == [FR_SELLER]
    assert len(query["spapi_oauth_code"][0]) >= 20


async def test_cancel_redirects_with_access_denied(client) -> None:
    form = consent_params(redirect_uri=CALLBACK, selling_partner_id=FR_SELLER, action="cancel")
    response = await client.post("/apps/authorize/consent", data=form)
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert response.status_code == 302
    assert (
        query["error"] == ["access_denied"]
        and query["state"] == ["st-1"]
        and query["error_description"]
    )
    assert "spapi_oauth_code" not in query


async def test_draft_app_without_beta_gets_md1000_and_no_redirect(client) -> None:
    params = consent_params(redirect_uri=CALLBACK)
    del params["version"]
    page = await client.get("/apps/authorize/consent", params=params)
    assert page.status_code == 400 and "MD1000" in page.text and "location" not in page.headers
    posted = await client.post(
        "/apps/authorize/consent",
        data={**params, "selling_partner_id": FR_SELLER, "action": "authorize"},
    )
    assert "MD1000" in posted.text and "location" not in posted.headers


async def test_published_app_needs_no_beta(make_client) -> None:
    client = await make_client(SandboxConfig(doubles=(AmazonDoubleSettings(app_draft=False),)))
    params = consent_params(redirect_uri=CALLBACK)
    del params["version"]
    assert (await client.get("/apps/authorize/consent", params=params)).status_code == 200


async def test_unregistered_redirect_uri_gets_md5101(client) -> None:
    page = await client.get(
        "/apps/authorize/consent", params=consent_params(redirect_uri="http://evil.test/cb")
    )
    assert page.status_code == 400 and "MD5101" in page.text


async def test_unknown_application_gets_error_page(client) -> None:
    page = await client.get(
        "/apps/authorize/consent", params=consent_params(application_id="amzn1.sp.solution.other")
    )
    assert page.status_code == 400 and "could not be found" in page.text


async def test_omitted_redirect_uri_uses_first_registered(client) -> None:
    form = consent_params(selling_partner_id=FR_SELLER, action="authorize")
    response = await client.post("/apps/authorize/consent", data=form)
    assert response.headers["location"].startswith(CALLBACK + "?")


async def test_localhost_variant_and_env_uris_are_registered(make_client) -> None:
    config = config_from_env(
        {"SANDBOX_REDIRECT_URIS": "http://127.0.0.1:9999/cb, http://127.0.0.1:9998/cb"}
    )
    client = await make_client(config)
    for uri in (
        "http://localhost:8001/api/v1/marketplaces/amazon/oauth/callback",
        "http://127.0.0.1:9999/cb",
        "http://127.0.0.1:9998/cb",
    ):
        page = await client.get("/apps/authorize/consent", params=consent_params(redirect_uri=uri))
        assert page.status_code == 200, uri


async def test_admin_registers_redirect_uri_at_runtime(client) -> None:
    uri = "http://127.0.0.1:45123/api/v1/marketplaces/amazon/oauth/callback"
    assert (
        await client.get("/apps/authorize/consent", params=consent_params(redirect_uri=uri))
    ).status_code == 400
    added = await client.post("/_sandbox/redirect-uris", json={"uri": uri})
    assert added.status_code == 201 and uri in added.json()["redirectUris"]
    not_http = await client.post("/_sandbox/redirect-uris", json={"uri": "ftp://x.example/cb"})
    assert not_http.status_code == 400
    assert (
        await client.get("/apps/authorize/consent", params=consent_params(redirect_uri=uri))
    ).status_code == 200


async def test_application_id_check_uses_configured_id(client) -> None:
    assert APPLICATION_ID == "amzn1.sp.solution.keybuzz-sandbox"
    page = await client.get("/apps/authorize/consent", params=consent_params())
    assert page.status_code == 200
