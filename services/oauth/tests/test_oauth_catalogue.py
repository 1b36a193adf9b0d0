"""``GET /api/v1/marketplaces``: what a tenant can connect, read from the connector registry
at each request (a connector registered in the test is listed with its form and limits,
with no code of its own in oauth), authenticated like every oauth endpoint; and a shop's
connection body held to its connector's declared fields over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from keybuzz_devstack.testing import ThrowawayConnector
from keybuzz_shared.connectors.credential_form import full_match
from keybuzz_shared.connectors.registry import connector_for, connectors, registered
from keybuzz_shared.logs import JsonFormatter
from oauth_testkit import OauthKit, new_tenant

CATALOGUE = "/api/v1/marketplaces"


async def get(kit: OauthKit, tenant: str, **headers: str) -> httpx.Response:
    async with kit.service.client() as http:
        return await http.get(CATALOGUE, headers={**kit.headers(tenant), **headers})


def by_code(answer: httpx.Response) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return {m["marketplace"]: m for m in answer.json()["marketplaces"]}


async def test_the_catalogue_is_the_registrys(kit: OauthKit) -> None:
    listed = by_code(await get(kit, new_tenant()))
    assert list(listed) == [c.marketplace.lower() for c in connectors()]
    for code, entry in listed.items():
        connector = connector_for(code.upper())
        assert entry["displayName"] == connector.display_name
        kind = "redirect" if connector.redirect_flow is not None else "credentials"
        assert entry["connectionKind"] == kind
        fields = connector.credential_fields if kind == "credentials" else ()
        assert entry["fields"] == [
            {
                "name": f.json_name,
                "label": f.label,
                "secret": f.secret,
                "format": f.format,
                "pattern": full_match(f),
                "maxLength": f.max_length,
            }
            for f in fields
        ]
        limits = connector.limits
        assert entry["limits"] == {
            "replyMaxLength": limits.max_text_length,
            "attachments": {
                "maxCount": limits.max_attachments,
                "maxTotalBytes": limits.max_attachment_bytes,
                "formats": list(limits.attachment_formats),
            },
        }
    # What the frontend relies on today, spelt out.
    assert listed["amazon"]["connectionKind"] == "redirect" and listed["amazon"]["fields"] == []
    assert [(f["name"], f["secret"]) for f in listed["fnac"]["fields"]] == [
        ("partnerId", False),
        ("shopId", False),
        ("key", True),
    ]


async def test_a_connector_registered_is_listed_with_its_form_and_limits(kit: OauthKit) -> None:
    tenant = new_tenant()
    with registered(ThrowawayConnector()):
        entry = by_code(await get(kit, tenant))["throwaway"]
    assert entry == {
        "marketplace": "throwaway",
        "displayName": "Throwaway Market",
        "connectionKind": "credentials",
        "fields": [
            {
                "name": "sellerId",
                "label": "Seller number",
                "secret": False,
                "format": "number",
                "pattern": "^(?:[0-9]{1,9})$(?!\\n)",
                "maxLength": 9,
            },
            {
                "name": "clientSecret",
                "label": "Secret",
                "secret": True,
                "format": None,
                "pattern": None,
                "maxLength": 256,
            },
        ],
        "limits": {
            "replyMaxLength": 5000,
            "attachments": {
                "maxCount": 3,
                "maxTotalBytes": 4 * 2**20,
                "formats": ["application/pdf", "image/png"],
            },
        },
    }
    assert "throwaway" not in by_code(await get(kit, tenant))  # gone with its registration


async def test_the_catalogue_is_for_an_authenticated_member_of_the_tenant(kit: OauthKit) -> None:
    mine, theirs = new_tenant(), new_tenant()
    assert (await get(kit, mine, Authorization="")).status_code == 401
    assert (
        await get(
            kit,
            theirs,
            **{"X-Tenant-Id": theirs} | {"Authorization": kit.headers(mine)["Authorization"]},
        )
    ).status_code == 403


SECRET = "Th3-Key-N0t-To-Echo"


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        ({"partnerId": "not-a-uuid"}, "partnerId: must be a UUID"),
        ({"key": SECRET + " with a space"}, "key: must be a printable ASCII text without spaces"),
        ({"key": SECRET * 20}, "key: must be at most 256 characters"),
        ({"shopId": ""}, "shopId: is required"),
    ],
    ids=["id-format", "key-format", "key-length", "empty"],
)
async def test_a_field_breaking_its_rule_is_a_400_naming_it_and_the_rule(
    shop_kit: OauthKit,
    caplog: pytest.LogCaptureFixture,
    typed: dict[str, str],
    refusal: str,
) -> None:
    """The rule is the connector's declaration's, said as it says it; the secret typed is
    never echoed, in the answer or a log."""
    caplog.set_level(logging.DEBUG)
    uuid = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
    body = {"partnerId": uuid, "shopId": uuid, "key": SECRET} | typed
    async with shop_kit.service.client() as http:
        answer = await http.post(
            f"{CATALOGUE}/fnac/connection", json=body, headers=shop_kit.headers(new_tenant())
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == refusal
    assert SECRET not in answer.text
    formatter = JsonFormatter("test")
    for record in caplog.records:
        assert SECRET not in f"{record.getMessage()} {record.__dict__}", record.name
        assert SECRET not in formatter.format(record), record.name


async def test_a_marketplace_whose_buyers_write_by_mail_says_where_its_address_is_set(
    kit: OauthKit,
) -> None:
    listed = by_code(await get(kit, new_tenant()))
    for code, entry in listed.items():
        connector = connector_for(code.upper())
        addresses = connector.inbound_addresses
        if addresses is None:
            assert "inboundAddressSetup" not in entry, code
        else:
            assert entry["inboundAddressSetup"] == addresses.setup, code
    assert "inboundAddressSetup" in listed["amazon"]
