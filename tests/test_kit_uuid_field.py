"""A credential field holding a UUID (connectors/fnac/src/keybuzz_connector_fnac/connector.py, ``uuid_field``): a UUID typed in either case is
read in the one case declared (the same id, one account), anything else refused with the
field's format, and the field names the account only where it is declared so. No server."""

from __future__ import annotations

import pytest
from keybuzz_connector_fnac.connector import uuid_field
from keybuzz_shared.connectors.credential_form import (
    CredentialFieldInvalid,
    account_name,
    read_credentials,
)

ID = "9f1c2e4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
FIELDS = (
    uuid_field(name="partner_id", json_name="partnerId", label="Partner ID"),
    uuid_field(name="shop_id", json_name="shopId", label="Shop ID", case="lower", account=True),
)


def test_a_uuid_typed_in_either_case_is_read_in_the_declared_one() -> None:
    for typed in (ID, ID.upper(), f"  {ID.title()} "):
        read = read_credentials(FIELDS, {"partnerId": typed.strip(), "shopId": typed.strip()})
        assert read == {"partner_id": ID.upper(), "shop_id": ID}


@pytest.mark.parametrize(
    "typed",
    [ID[:-1], ID + "0", ID.replace("-", ""), ID.replace("9", "g", 1), f"{{{ID}}}", ID + "\n"],
)
def test_anything_but_a_uuid_is_refused_with_the_fields_format(typed: str) -> None:
    with pytest.raises(CredentialFieldInvalid) as refused:
        read_credentials(FIELDS, {"partnerId": typed, "shopId": ID})
    assert (refused.value.field, refused.value.rule) in {
        ("partnerId", "must be a UUID"),
        ("partnerId", "must be at most 36 characters"),
    }


def test_the_field_is_the_account_only_where_declared_so() -> None:
    partner, shop = FIELDS
    assert (partner.account, shop.account) == (False, True)
    assert account_name(FIELDS) == "shop_id"
    assert (shop.name, shop.json_name, shop.label, shop.max_length) == (
        "shop_id",
        "shopId",
        "Shop ID",
        36,
    )
    assert (partner.case, shop.case) == ("upper", "lower")
