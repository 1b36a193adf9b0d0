"""Each shop marketplace's settings are its own: Fnac's and Darty's shops share the Fnac
seller API's settings but not necessarily its poll interval (DARTY_POLL_INTERVAL_SECONDS)."""

from __future__ import annotations

import pytest
from keybuzz_shared.connectors.names import DARTY, FNAC
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.settings import SettingsError, load_settings


def test_darty_polls_at_its_own_interval_when_given() -> None:
    settings = load_settings(
        MarketplaceSettings,
        {"FNAC_POLL_INTERVAL_SECONDS": "60", "DARTY_POLL_INTERVAL_SECONDS": "300"},
    )
    assert settings.shop_api(FNAC).poll_interval_seconds == 60
    assert settings.shop_api(DARTY).poll_interval_seconds == 300


def test_darty_polls_at_fnacs_interval_by_default() -> None:
    settings = load_settings(MarketplaceSettings, {"FNAC_POLL_INTERVAL_SECONDS": "45"})
    assert settings.shop_api(DARTY).poll_interval_seconds == 45


def test_a_darty_interval_below_one_second_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="DARTY_POLL_INTERVAL_SECONDS"):
        load_settings(MarketplaceSettings, {"DARTY_POLL_INTERVAL_SECONDS": "0"})
