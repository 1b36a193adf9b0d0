"""CdiscountSettings as a service reads them (the CDISCOUNT_ variables, with the poller's
settings): the shop API's view, the first poll within Octopia's 6-month search, production
refusing an endpoint inside our network, and the one address a session is given."""

from __future__ import annotations

import msgspec
import pytest
from keybuzz_connector_cdiscount.endpoints import Endpoints
from keybuzz_connector_cdiscount.settings import CdiscountSettings
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.settings import SettingsError, load_settings

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
    assert Endpoints.of(api.api_url) == Endpoints(
        api_url=SANDBOX["CDISCOUNT_API_URL"],
        auth_url=SANDBOX["CDISCOUNT_AUTH_URL"],
        call_deadline=20.0,
    )
    assert settings.of(CdiscountSettings).shop_api("FNAC") is None


def test_an_address_without_its_fragment_is_octopias_production() -> None:
    plain = Endpoints.of("https://api.octopia-io.net/seller/v2/")
    assert plain.auth_url.startswith("https://auth.octopia-io.net/") and plain.call_deadline is None
    with pytest.raises(ValueError, match="positive"):
        Endpoints.of("https://api.octopia-io.net/seller/v2/#deadline=0")


def test_a_first_poll_further_back_than_octopia_searches_is_refused() -> None:
    with pytest.raises(SettingsError, match="CDISCOUNT_FIRST_POLL_DAYS"):
        load_settings(PollerSettings, SANDBOX | {"CDISCOUNT_FIRST_POLL_DAYS": "200"})
    assert load_settings(PollerSettings, {"CDISCOUNT_FIRST_POLL_DAYS": "183"})


@pytest.mark.parametrize("name", ["CDISCOUNT_API_URL", "CDISCOUNT_AUTH_URL"])
def test_production_refuses_an_endpoint_inside_our_network(name: str) -> None:
    given = {name.lower(): SANDBOX[name]}
    with pytest.raises(msgspec.ValidationError, match=name):
        msgspec.convert({"keybuzz_env": "production"} | given, CdiscountSettings)
    assert msgspec.convert(given, CdiscountSettings)  # development runs the double so
    assert msgspec.convert({"keybuzz_env": "production"}, CdiscountSettings).shop_api("CDISCOUNT")
