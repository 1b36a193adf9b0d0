"""A credential form is its connector's declaration (seam.CredentialField): what a seller
typed is held to each field's length and format, normalised to its case, refused when it
has a field the form does not, and a refusal names the field and the rule, never a value."""

from __future__ import annotations

import pytest
from keybuzz_shared.connectors.credential_form import (
    CredentialFieldInvalid,
    account_of,
    canonical,
    canonical_account,
    read_credentials,
    reidentified,
    stored,
)
from keybuzz_shared.connectors.seam import CredentialField

FORM = (
    CredentialField(
        name="seller_id",
        json_name="sellerId",
        label="Seller ID",
        pattern="[0-9]{4,8}",
        format="number of 4 to 8 digits",
        max_length=8,
        account=True,
    ),
    CredentialField(name="client", json_name="clientId", label="Client", case="lower"),
    CredentialField(
        name="client_secret",
        json_name="clientSecret",
        label="Client secret",
        secret=True,
        max_length=40,
    ),
)
SECRET = "s3cr3t-Value-0f-The-Shop"
TYPED = {"sellerId": "123456", "clientId": "MiXeD-Client", "clientSecret": SECRET}


def refusal(typed: dict[str, object]) -> CredentialFieldInvalid:
    with pytest.raises(CredentialFieldInvalid) as refused:
        read_credentials(FORM, typed)
    assert SECRET not in str(refused.value)
    return refused.value


def test_the_declared_fields_are_read_by_name_and_normalised() -> None:
    read = read_credentials(FORM, TYPED)
    assert read == {"seller_id": "123456", "client": "mixed-client", "client_secret": SECRET}
    assert account_of(FORM, read) == "123456"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"sellerId": "12a456"}, "sellerId", "must be a number of 4 to 8 digits"),
        ({"sellerId": "123456\n"}, "sellerId", "must be a number of 4 to 8 digits"),
        ({"sellerId": "123456789"}, "sellerId", "must be at most 8 characters"),
        ({"clientSecret": SECRET * 3}, "clientSecret", "must be at most 40 characters"),
        ({"clientSecret": ""}, "clientSecret", "is required"),
        ({"clientId": 42}, "clientId", "must be a string"),
        ({"sellerID": "1234"}, "sellerID", "not a field of this marketplace's form"),
    ],
    ids=[
        "format",
        "final-newline",
        "too-long",
        "secret-too-long",
        "empty",
        "not-a-string",
        "unknown",
    ],
)
def test_a_field_breaking_its_rule_is_named_with_the_rule(
    change: dict[str, object], field: str, rule: str
) -> None:
    refused = refusal(TYPED | change)
    assert (refused.field, refused.rule) == (field, rule)
    assert str(refused) == f"{field}: {rule}"


def test_a_missing_field_is_named() -> None:
    refused = refusal({k: v for k, v in TYPED.items() if k != "sellerId"})
    assert (refused.field, refused.rule) == ("sellerId", "is required")


def test_a_secret_typed_in_another_field_is_not_quoted() -> None:
    refused = refusal(TYPED | {"sellerId": SECRET})
    assert refused.field == "sellerId"


def test_what_vault_holds_is_read_only_when_every_field_is_there() -> None:
    secret = {"seller_id": "123456", "client": "c", "client_secret": SECRET, "created_at": "t"}
    assert stored(FORM, secret) == {"seller_id": "123456", "client": "c", "client_secret": SECRET}
    assert stored(FORM, secret | {"client": " "}) == {}
    assert stored(FORM, {"seller_id": "123456"}) == {}


NUMBER = CredentialField(
    name="shop_id", json_name="shopId", label="Shop", number=True, account=True
)
UPPER = CredentialField(name="uuid", json_name="uuid", label="UUID", case="upper")


@pytest.mark.parametrize(
    ("field", "spelled", "one"),
    [
        (NUMBER, "043115", "43115"),
        (NUMBER, "0043115", "43115"),
        (NUMBER, " 43115\t", "43115"),
        (NUMBER, "\uff14\uff13\uff11\uff11\uff15", "43115"),  # full-width digits
        (NUMBER, "000", "0"),
        (NUMBER, "43115", "43115"),
        (UPPER, " abcdef01-2345 ", "ABCDEF01-2345"),
        (UPPER, "\uff41bc", "ABC"),  # a full-width letter
    ],
)
def test_a_value_has_one_canonical_spelling(field: CredentialField, spelled: str, one: str) -> None:
    assert canonical(field, spelled) == one
    assert canonical(field, one) == one  # canonical already: unchanged


def test_a_secret_is_never_made_canonical_and_stored_ids_are_read_canonical() -> None:
    secret = CredentialField(name="key", json_name="key", label="Key", secret=True)
    assert canonical(secret, " Ｋey0 ") == " Ｋey0 "
    assert canonical_account((NUMBER, secret), "007") == "7"
    assert account_of((NUMBER, secret), {"shop_id": "0043115", "key": "k"}) == "43115"
    typed = read_credentials((NUMBER, secret), {"shopId": "0043115", "key": " k "})
    assert typed == {"shop_id": "43115", "key": " k "}


def test_an_identity_takes_a_canonical_shop_id_in_its_last_part() -> None:
    assert reidentified("mirakl:BOULANGER:043115", "43115") == "mirakl:BOULANGER:43115"
    assert reidentified("octopia-seller-api:0090", "90") == "octopia-seller-api:90"
    at_instance = "mirakl@127.0.0.1:8900:043115"  # a host's port before the shop id
    assert reidentified(at_instance, "43115") == "mirakl@127.0.0.1:8900:43115"
    # An identity that is the account alone (ManoMano's, Rakuten's) stays so.
    assert reidentified("0777", "777") == "777"
    assert reidentified("boutique-7001", "boutique-7001") == "boutique-7001"
    # One an earlier start made ":<id>" of the account alone is the account again.
    assert reidentified(":0777", "777") == "777"
