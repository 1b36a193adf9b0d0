"""CdiscountSettings as a service reads them (the CDISCOUNT_ variables, with the poller's
settings): the shop API's view, the first poll within Octopia's 6-month search, production
refusing an endpoint inside our network, and the view a session and a check are given (the
API and its token endpoint, fields of its own)."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from keybuzz_connector_cdiscount.settings import CDISCOUNT, CdiscountApiSettings, CdiscountSettings
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import ShopApiSettings, shop_api_of
from keybuzz_shared.settings import SettingsError, load_settings

TOKEN_PATH = "/octopia/auth/realms/maas/protocol/openid-connect/token"
SANDBOX = {
    "CDISCOUNT_API_URL": "http://127.0.0.1:8900/octopia/seller/v2/",
    "CDISCOUNT_AUTH_URL": "http://127.0.0.1:8900/octopia/auth/token",
}


def test_the_shop_api_view_is_cdiscounts_own() -> None:
    settings = load_settings(
        PollerSettings,
        SANDBOX | {"CDISCOUNT_POLL_INTERVAL_SECONDS": "45", "FNAC_POLL_INTERVAL_SECONDS": "90"},
    )
    api = settings.shop_api("CDISCOUNT")
    assert (api.poll_interval_seconds, settings.shop_api("FNAC").poll_interval_seconds) == (45, 90)
    assert api.attachment_origins == ("http://127.0.0.1:8900",)
    assert isinstance(api, CdiscountApiSettings)
    assert (api.api_url, api.auth_url, api.call_deadline_seconds) == (
        SANDBOX["CDISCOUNT_API_URL"],
        SANDBOX["CDISCOUNT_AUTH_URL"],
        20.0,
    )
    assert settings.of(CdiscountSettings).shop_api("FNAC") is None


async def test_a_session_and_a_check_call_the_endpoints_their_view_names(
    sandbox_url: str,
) -> None:
    """The session and the check take the API and the token endpoint from the view they
    are given (the double's here, as CDISCOUNT_ variables name them); a view without a
    token endpoint (another connector's) is refused, never completed with a guess."""
    async with httpx.AsyncClient(timeout=30) as admin:
        entry = (await admin.get(f"{sandbox_url}/_sandbox/cdiscount/shops")).json()[0]
    shop = {
        "client_id": entry["clientId"],
        "client_secret": entry["clientSecret"],
        "seller_id": entry["sellerId"],
    }
    settings = load_settings(
        PollerSettings,
        {
            "CDISCOUNT_API_URL": f"{sandbox_url}/octopia/seller/v2/",
            "CDISCOUNT_AUTH_URL": f"{sandbox_url}{TOKEN_PATH}",
        },
    )
    view = settings.shop_api(CDISCOUNT)
    fields = msgspec.structs.asdict(view)
    del fields["auth_url"]
    api = shop_api_of(connector_for(CDISCOUNT))
    check = connector_for(CDISCOUNT).credential_check
    assert check is not None
    async with httpx.AsyncClient(timeout=30) as http:
        await api.session(shop, http=http, settings=view).verify()
        identity = await check.verify(shop, http=http, settings=view)
        assert identity.endswith(f":{entry['sellerId']}")
        for other in (settings.shop_api("FNAC"), ShopApiSettings(**fields)):
            with pytest.raises(TypeError, match="CdiscountApiSettings"):
                api.session(shop, http=http, settings=other)
            with pytest.raises(TypeError, match="CdiscountApiSettings"):
                await check.verify(shop, http=http, settings=other)


def test_a_first_poll_further_back_than_octopia_searches_is_refused() -> None:
    with pytest.raises(SettingsError, match="CDISCOUNT_FIRST_POLL_DAYS"):
        load_settings(PollerSettings, SANDBOX | {"CDISCOUNT_FIRST_POLL_DAYS": "200"})
    assert load_settings(PollerSettings, {"CDISCOUNT_FIRST_POLL_DAYS": "183"})


@pytest.mark.parametrize(
    ("field", "name"),
    [("api_url", "CDISCOUNT_API_URL"), ("cdiscount_auth_url", "CDISCOUNT_AUTH_URL")],
)
def test_production_refuses_an_endpoint_inside_our_network(field: str, name: str) -> None:
    given = {field: SANDBOX[name]}
    with pytest.raises(msgspec.ValidationError, match=name):
        msgspec.convert({"keybuzz_env": "production"} | given, CdiscountSettings)
    assert msgspec.convert(given, CdiscountSettings)  # development runs the double so
    assert msgspec.convert({"keybuzz_env": "production"}, CdiscountSettings).shop_api("CDISCOUNT")
