"""The conformance suite's drivers (keybuzz_sandbox.conformance) against the sandbox over
HTTP. The Fnac and Darty drivers run in tests/conformance/ with their connectors; the
Cdiscount driver, whose connector is not registered yet, is checked here."""

from __future__ import annotations

import pytest
from cdiscount_helpers import Octopia
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.conformance import DRIVERS, Unsupported, driver_for


def test_drivers_are_found_by_marketplace_and_fnacs_api_serves_two() -> None:
    assert driver_for("FNAC") is DRIVERS["FNAC"] and driver_for("AMAZON") is None
    families = {m: d.api_family for m, d in DRIVERS.items()}
    assert families["FNAC"] == families["DARTY"] != families["CDISCOUNT"]


async def test_the_cdiscount_driver_drives_its_double(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    driver = DRIVERS["CDISCOUNT"]
    shop = (await driver.shops(http))[0]
    octopia = await Octopia(
        http,
        {
            "clientId": shop.credentials["client_id"],
            "clientSecret": shop.credentials["client_secret"],
            "sellerId": shop.account,
        },
    ).authenticate()

    written = await driver.thread_for(http, shop, "MARKETPLACE_SUPPORT", "Et alors ?")
    items, _ = await octopia.all_pages("/discussions")
    about = [d for d in items if d["orderReference"] == written.order_id]
    newest = max(about, key=lambda d: d["createdAt"])
    one = await octopia.ok(f"/discussions/{newest['discussionId']}")
    senders = {m["sender"]["userType"] for m in one["messages"]}
    assert {"Customer", "GrcOperator"} <= senders

    await driver.set_fault(http, "UNAVAILABLE")
    assert (await octopia.get("/discussions")).status_code == 503
    await driver.clear_faults(http)
    assert (await octopia.get("/discussions")).status_code == 200
    with pytest.raises(Unsupported):
        await driver.set_fault(http, "ENTITY_EXPANSION")
    with pytest.raises(Unsupported):
        await driver.thread_for(http, shop, "OPERATOR", "Qui ?")

    asked = await driver.token_requests(http, shop)
    await driver.expire_tokens(http, shop)
    assert (await octopia.get("/discussions")).status_code == 401
    await octopia.authenticate()
    assert await driver.token_requests(http, shop) == asked + 1
    await driver.revoke(http, shop)
    assert (await octopia.request_token()).status_code == 401
    assert (await driver.shops(http))[0].credentials["client_secret"] != shop.credentials[
        "client_secret"
    ]
