"""Contract: every operation we serve answers with bodies valid against Amazon's
models, accepts exactly the parameters the models declare, and meters calls with
the rate limits the models document."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import (
    CONTRACT,
    DE,
    FR,
    FR_SELLER,
    all_orders_v0,
    connect,
    headers,
    iso_ago,
    spapi_get,
)

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

SERVED = {
    "getOrders",
    "getOrder",
    "getOrderItems",
    "searchOrders",
    "createReport",
    "getReport",
    "getReportDocument",
    "getMessagingActionsForOrder",
    "getMarketplaceParticipations",
}


def _model_rate_limits() -> dict[str, tuple[str, int]]:
    """Independent reading of the 'Usage Plan' tables."""
    limits = {}
    for entry in (resources.files("keybuzz_double_amazon") / "spapi_models").iterdir():
        if entry.name.endswith(".json"):
            for item in json.loads(entry.read_text(encoding="utf-8"))["paths"].values():
                for op in item.values():
                    if isinstance(op, dict) and "operationId" in op:
                        found = re.search(r"\| ([\d.]+) \| (\d+) \|", op.get("description", ""))
                        if found:
                            limits[f"{entry.name}:{op['operationId']}"] = (
                                found.group(1),
                                int(found.group(2)),
                            )
    return limits


async def _exercise_everything(client) -> None:
    token = (await connect(client))["access_token"]
    orders = await all_orders_v0(
        client, token, CreatedAfter=iso_ago(days=30), MaxResultsPerPage="50"
    )
    order_id = next(o["AmazonOrderId"] for o in orders if o["OrderStatus"] == "Shipped")
    calls = [
        ("GET", f"/orders/v0/orders/{order_id}", token, None),
        ("GET", f"/orders/v0/orders/{order_id}/orderItems", token, None),
        ("GET", f"/orders/v0/orders/{order_id}", "Atza|forged", None),  # 403
        ("GET", "/orders/v0/orders/999-9999999-9999999", token, None),  # 404
        (
            "GET",
            f"/orders/2026-01-01/orders?createdAfter={iso_ago(days=30)}&maxResultsPerPage=3&includedData="
            "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,"
            "FULFILLMENT_ORDERS",
            token,
            None,
        ),
        (
            "GET",
            f"/orders/2026-01-01/orders/{order_id}?includedData=BUYER,RECIPIENT,PACKAGES",
            token,  # no RDT in Orders 2026-01-01
            None,
        ),
        ("GET", "/orders/2026-01-01/orders?marketplaceIds=" + FR, token, None),  # 400
        ("GET", f"/messaging/v1/orders/{order_id}?marketplaceIds={FR}", token, None),
        (
            "GET",
            f"/messaging/v1/orders/999-9999999-9999999?marketplaceIds={FR}",
            token,
            None,
        ),  # 404
        ("GET", "/sellers/v1/marketplaceParticipations", token, None),
        ("GET", "/sellers/v1/marketplaceParticipations", "Atza|forged", None),  # 403
        (
            "POST",
            "/reports/2021-06-30/reports",
            token,
            {
                "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                "marketplaceIds": [FR],
                "dataStartTime": iso_ago(days=3),
            },
        ),
    ]
    for method, path, auth, body in calls:
        await client.request(method, path, headers=headers(auth), json=body)
    report_id = (
        await client.post(
            "/reports/2021-06-30/reports",
            headers=headers(token),
            json={
                "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                "marketplaceIds": [FR],
                "dataStartTime": iso_ago(days=3),
            },
        )
    ).json()["reportId"]
    await client.post("/_sandbox/sellers/" + FR_SELLER + "/advance", json={"seconds": 1})

    async def done() -> dict[str, Any] | None:
        report = (await spapi_get(client, f"/reports/2021-06-30/reports/{report_id}", token)).json()
        return report if report["processingStatus"] == "DONE" else None

    report = await eventually(done, within=None)  # ~1 s real; a 2 s window missed it loaded
    await spapi_get(client, f"/reports/2021-06-30/documents/{report['reportDocumentId']}", token)


async def test_every_served_operation_answers_within_its_model(make_client) -> None:
    # Reports done in ~1 s real (90 Amazon seconds), the access token living 36 s real: at
    # 3000 it lived 1.2 s, fewer than a busy machine takes for the calls below.
    client = await make_client(SandboxConfig(time_scale=100))
    CONTRACT.seen.clear()
    await _exercise_everything(client)  # the response hook validates each body against the models
    served_ok = {seen.split(":")[0] for seen in CONTRACT.seen if seen.endswith((":200", ":202"))}
    assert served_ok == SERVED
    assert {
        "getOrder:403",
        "getOrder:404",
        "searchOrders:400",
        "getMessagingActionsForOrder:404",
        "getMarketplaceParticipations:403",
    } <= CONTRACT.seen


async def test_messaging_and_sellers_payloads(client) -> None:
    token = (await connect(client))["access_token"]
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=60))
    shipped = next(o for o in orders if o["OrderStatus"] == "Shipped")["AmazonOrderId"]
    cancelled = next(o for o in orders if o["OrderStatus"] == "Canceled")["AmazonOrderId"]
    actions = await client.get(
        f"/messaging/v1/orders/{shipped}", params={"marketplaceIds": FR}, headers=headers(token)
    )
    assert actions.headers["content-type"].startswith("application/hal+json")
    names = {a["name"] for a in actions.json()["_links"]["actions"]}
    assert {"legalDisclosure", "unexpectedProblem", "warranty"} <= names
    none = await client.get(
        f"/messaging/v1/orders/{cancelled}", params={"marketplaceIds": FR}, headers=headers(token)
    )
    assert none.json()["_links"]["actions"] == []
    participations = (
        await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
    ).json()
    [entry] = participations["payload"]
    assert entry["marketplace"]["id"] == FR and entry["marketplace"]["defaultCurrencyCode"] == "EUR"
    assert (
        entry["marketplace"]["countryCode"] == "FR"
        and entry["participation"]["isParticipating"] is True
    )
    de_token = (await connect(client, "A3DESELLERBENCH"))["access_token"]
    de = (
        await client.get("/sellers/v1/marketplaceParticipations", headers=headers(de_token))
    ).json()
    assert de["payload"][0]["marketplace"]["id"] == DE


# What widely used clients add to every GET; Amazon ignores what an operation does not define.
EXTRA = (
    f"MarketplaceId={FR}&MarketplaceIds={FR}&marketplaceIds={FR}&marketplace_ids={FR}&sellerId=X"
)


async def test_undeclared_parameters_are_ignored_declared_ones_still_checked(client) -> None:
    token = (await connect(client))["access_token"]
    order_id = (await all_orders_v0(client, token, CreatedAfter=iso_ago(days=30)))[0][
        "AmazonOrderId"
    ]
    paths = {
        "/orders/v0/orders": f"MarketplaceIds={FR}&CreatedAfter={iso_ago(days=1)}",
        f"/orders/v0/orders/{order_id}": "",
        f"/orders/v0/orders/{order_id}/orderItems": "",
        "/orders/2026-01-01/orders": f"createdAfter={iso_ago(days=1)}",
        f"/orders/2026-01-01/orders/{order_id}": "",
        f"/messaging/v1/orders/{order_id}": "",  # declares marketplaceIds: EXTRA gives it
        "/sellers/v1/marketplaceParticipations": "",
    }
    for path, query in paths.items():
        response = await client.get(f"{path}?{query}&{EXTRA}", headers=headers(token))
        assert response.status_code == 200, (path, response.text)
    checked = {
        "/orders/v0/orders": f"MarketplaceIds={FR}&CreatedAfter=yesterday",  # type
        "/orders/2026-01-01/orders": f"createdAfter={iso_ago(days=1)}&fulfilledBy=ME",  # enum
        f"/orders/v0/orders/{order_id}/orderItems": "NextToken=forged",
    }
    for path, query in checked.items():
        response = await client.get(f"{path}?{query}&{EXTRA}", headers=headers(token))
        assert (
            response.status_code == 400 and response.json()["errors"][0]["code"] == "InvalidInput"
        )
    for path in ("/orders/v0/orders", f"/messaging/v1/orders/{order_id}"):
        response = await client.get(f"{path}?sellerId=X", headers=headers(token))
        assert (
            response.status_code == 400
            and "Missing required parameter" in response.json()["errors"][0]["message"]
        )


async def test_rate_limits_are_the_models(client) -> None:
    config = (await client.get("/_sandbox/config")).json()
    documented = _model_rate_limits()
    expected = {
        "ordersV0.getOrders": documented["ordersV0.json:getOrders"],
        "ordersV0.getOrderItems": documented["ordersV0.json:getOrderItems"],
        "orders2026.searchOrders": documented["orders_2026-01-01.json:searchOrders"],
        "reports.createReport": documented["reports_2021-06-30.json:createReport"],
        "sellers.getMarketplaceParticipations": documented[
            "sellers.json:getMarketplaceParticipations"
        ],
    }
    assert expected["ordersV0.getOrders"] == ("0.0167", 20) and expected[
        "orders2026.searchOrders"
    ] == ("0.0056", 20)
    for key, (rate, burst) in expected.items():
        assert config["rateLimits"][key] == {"rate": float(rate), "burst": burst}
    token = (await connect(client))["access_token"]
    search = await client.get(
        "/orders/2026-01-01/orders",
        params={"createdAfter": iso_ago(days=1)},
        headers=headers(token),
    )
    assert search.headers["x-amzn-RateLimit-Limit"] == "0.0056"
