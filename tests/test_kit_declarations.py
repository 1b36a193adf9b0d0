"""What a connector declares with the kit rather than writes (no servers): its credential
fields, read by the credential form as the seller types them, its order ids, whole
and in a buyer's text, its errors, named by its label, and its settings: the kit's, read
from its prefixed variables, and the shop API view they fill."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from keybuzz_devstack.testing import ThrowawayConnector
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.connector_settings import ShopApiSettings
from keybuzz_shared.connectors.credential_form import (
    CredentialFieldInvalid,
    account_of,
    read_credentials,
)
from keybuzz_shared.connectors.kit import (
    CallErrors,
    OrderIdPattern,
    ShopSettings,
    account_field,
    key_field,
    shop_number_field,
)
from keybuzz_shared.connectors.kit.auth import require_fields
from keybuzz_shared.connectors.registry import connectors, registered
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.settings import SettingsError, env_name, load_settings

FIELDS = (
    key_field("api_key", "API key", max_length=16),
    key_field("client_id", "Client ID", max_length=16, secret=False),
    shop_number_field("shop_id", "Shop ID"),
)


def test_declared_fields_are_a_form_with_camel_case_names_and_one_account() -> None:
    assert [(f.json_name, f.secret, f.account) for f in FIELDS] == [
        ("apiKey", True, False),
        ("clientId", False, False),
        ("shopId", False, True),
    ]
    read = read_credentials(FIELDS, {"apiKey": "k!y~1", "clientId": "c", "shopId": "043115"})
    assert read == {"api_key": "k!y~1", "client_id": "c", "shop_id": "43115"}
    assert account_of(FIELDS, read) == "43115"  # one shop, however its number is typed
    keyed = (account_field("client_key", "Client Key", "[0-9A-Fa-f]{4}", "4 hex digits", 4),)
    read = read_credentials(keyed, {"clientKey": "Ab1F"})
    assert read == {"client_key": "ab1f"} and account_of(keyed, read) == "ab1f"  # either case
    with pytest.raises(CredentialFieldInvalid, match="4 hex digits"):
        read_credentials(keyed, {"clientKey": "Ab1G"})


@pytest.mark.parametrize(
    ("typed", "field", "rule"),
    [
        ({"apiKey": "has space", "clientId": "c", "shopId": "1"}, "apiKey", "printable ASCII"),
        ({"apiKey": "k" * 17, "clientId": "c", "shopId": "1"}, "apiKey", "at most 16"),
        ({"apiKey": "k", "clientId": "c", "shopId": "12a"}, "shopId", "digits"),
        ({"apiKey": "k", "clientId": "c", "shopId": "1" * 13}, "shopId", "at most 12"),
    ],
)
def test_a_value_off_its_declared_rule_is_refused_by_the_form(
    typed: dict[str, str], field: str, rule: str
) -> None:
    with pytest.raises(CredentialFieldInvalid) as refused:
        read_credentials(FIELDS, typed)
    assert refused.value.field == field and rule in str(refused.value)


def test_stored_credentials_missing_a_field_name_it_never_a_value() -> None:
    require_fields(FIELDS, {"api_key": "secret-1", "client_id": "c", "shop_id": "1"}, "X")
    with pytest.raises(ValueError, match="X credentials lack client_id, shop_id") as missing:
        require_fields(FIELDS, {"api_key": "secret-1", "client_id": ""}, "X")
    assert "secret-1" not in str(missing.value)


def test_an_order_id_pattern_finds_ids_standing_alone() -> None:
    ids = OrderIdPattern("[0-9]{10}[A-Z]{5}", "ten digits, five letters")
    assert ids.is_order_id("2611230948AAACH")
    assert not ids.is_order_id("2611230948AAACH ") and not ids.is_order_id("x2611230948AAACH")
    text = "Commande 2611230948AAACH, pas x2611230948AAACH ni 2611230948AAACHZ (2611230948BBBCC)"
    assert ids.order_ids_in(text) == ["2611230948AAACH", "2611230948BBBCC"]


def test_what_may_touch_an_id_and_which_matches_are_kept_are_declared() -> None:
    hyphenated = OrderIdPattern("[0-9A-Z]*[0-9][0-9A-Z]*-[A-Z]", "id-A", joined="0-9A-Za-z_-")
    assert hyphenated.order_ids_in("BOU12-A et X-BOU12-A et BOU12-AB, BOU34-B.") == [
        "BOU12-A",
        "BOU34-B",
    ]
    no_decimals = OrderIdPattern("[1-9][0-9]{6,11}", "a number", before=".,")
    assert no_decimals.order_ids_in("12345678 coûte 9,12345678 €") == ["12345678"]
    with_a_digit = OrderIdPattern("[0-9A-Za-z]{13}", "13", keep=lambda w: any(map(str.isdigit, w)))
    assert with_a_digit.order_ids_in("Remboursement 1A2B3C4D5E6F7") == ["1A2B3C4D5E6F7"]


def test_labelled_errors_are_the_seams_each_naming_the_marketplace() -> None:
    errors = CallErrors.labelled("Boulanger (Mirakl)", credentials="API key")
    unavailable = errors.unavailable("M11", "HTTP 503", retry_after=7.0)
    refused = errors.refused("M12", 400, "body too short")
    unreadable = errors.unreadable("M11", "not JSON")
    unknown = errors.outcome_unknown("M12", "timeout")
    credentials = errors.credentials_refused("HTTP 401")
    assert isinstance(unavailable, seam.CallUnavailable) and unavailable.retry_after == 7.0
    assert isinstance(refused, seam.CallRefused) and (refused.status, refused.detail) == (
        400,
        "body too short",
    )
    assert isinstance(unreadable, seam.CallAnswerUnreadable)
    assert isinstance(unknown, seam.CallOutcomeUnknown)
    assert isinstance(credentials, seam.CredentialsRefused)
    assert [str(e) for e in (unavailable, refused, unreadable, credentials)] == [
        "Boulanger (Mirakl) M11 unavailable: HTTP 503",
        "Boulanger (Mirakl) M12 answered HTTP 400: body too short",
        "unreadable Boulanger (Mirakl) answer to M11: not JSON",
        "Boulanger (Mirakl) refused the shop's API key: HTTP 401",
    ]
    assert str(unknown).startswith("Boulanger (Mirakl) M12: the answer was lost (timeout)")
    # Another marketplace's errors name it, not the first one's.
    assert str(CallErrors.labelled("Octopia").refused("GET x", 404, "gone")).startswith("Octopia")


class _ThrowawayView(ShopApiSettings, frozen=True, kw_only=True):
    region: str


class _ThrowawaySettings(ShopSettings, kw_only=True, frozen=True):
    """Declares only what its marketplace has beyond the kit's settings: its default
    deadline, its region, and no read mark (nor a variable for one)."""

    MARKETPLACE, VIEW = "THROWAWAY", _ThrowawayView  # read from THROWAWAY_<NAME>
    MARKS_READ = False

    api_url: str = "https://api.throwaway.example"
    call_deadline_seconds: float = 9.0
    throwaway_region: str = "eu"

    def view_fields(self) -> dict[str, Any]:
        return {"region": self.throwaway_region}


class _ThrowawayShops(ThrowawayConnector):
    settings_type = _ThrowawaySettings


def test_the_kit_settings_are_read_from_the_connectors_prefixed_variables() -> None:
    environ = {
        "THROWAWAY_TIMEOUT_SECONDS": "3.5",
        "THROWAWAY_API_URL": "https://other.throwaway.example",
        "THROWAWAY_MARK_AS_READ": "true",  # not one of its variables: never read
        "TIMEOUT_SECONDS": "99",  # no prefix: another's
    }
    with registered(_ThrowawayShops()):
        settings = load_settings(MarketplaceSettings, environ).of(_ThrowawaySettings)
    assert (settings.timeout_seconds, settings.api_url) == (3.5, "https://other.throwaway.example")
    assert (settings.call_deadline_seconds, settings.mark_as_read) == (9.0, False)
    assert env_name(_ThrowawaySettings, "first_poll_days") == "THROWAWAY_FIRST_POLL_DAYS"
    assert env_name(_ThrowawaySettings, "throwaway_region") == "THROWAWAY_REGION"
    with registered(_ThrowawayShops()), pytest.raises(SettingsError, match="THROWAWAY_API_URL"):
        load_settings(MarketplaceSettings, {"THROWAWAY_API_URL": "ftp://x"})


def test_every_marketplace_without_a_read_mark_never_marks_whatever_its_environment() -> None:
    """Each registered connector whose settings say ``MARKS_READ = False`` loads with
    ``mark_as_read`` false even when its variable asks for it (a subclass's own
    ``__post_init__`` that skipped the kit's would let it through)."""
    unmarked = [
        kind
        for kind in (c.settings_type for c in connectors())
        if kind is not None and getattr(kind, "MARKS_READ", True) is False
    ]
    assert len(unmarked) >= 5, unmarked  # Back Market, Kaufland, ManoMano, Mirakl, Rakuten
    for kind in unmarked:
        environ = {f"{kind.PREFIX}_MARK_AS_READ".upper(): "true"}  # type: ignore[attr-defined]
        assert load_settings(MarketplaceSettings, environ).of(kind).mark_as_read is False, kind


def test_a_settings_view_is_filled_from_the_kit_settings_and_the_connectors_own() -> None:
    settings = msgspec.convert({"timeout_seconds": 3.5}, _ThrowawaySettings)
    view = settings.shop_api("THROWAWAY")
    assert isinstance(view, _ThrowawayView)
    assert (view.api_url, view.timeout_seconds, view.call_deadline_seconds) == (
        "https://api.throwaway.example",
        3.5,
        9.0,
    )
    assert (view.poll_interval_seconds, view.first_poll_days, view.region) == (60, 14, "eu")
    assert (view.mark_as_read, view.attachment_origins) == (False, ())  # its API serves none
    assert view.listing_overlap_seconds == 600  # neither has it: the view's default
    assert settings.shop_api("OTHER") is None


def test_a_settings_view_missing_a_required_field_names_it() -> None:
    settings = msgspec.convert({}, _ThrowawaySettings)
    with pytest.raises(TypeError, match="region"):
        settings.view(_ThrowawayView, api_url="https://x", attachment_origins=())
