"""The Amazon double's self-description, its seeded data and its state across restarts."""

from __future__ import annotations

import pytest
from keybuzz_sandbox import SandboxConfig


@pytest.mark.asyncio
async def test_config_endpoint_exposes_time_scale_and_sellers(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=25))
    config = (await client.get("/_sandbox/config")).json()
    assert config["timeScale"] == 25 and config["durations"]["accessToken"] == 3600
    sellers = {s["sellingPartnerId"]: s for s in config["sellers"]}
    assert (
        sellers["A12BCIS2R7HD4D"]["ordersInWindow"] == 94
        and sellers["A12BCIS2R7HD4D"]["cancelledInWindow"] == 6
    )
    assert sellers["A12BCIS2R7HD4D"]["marketplaceId"] == "A13V1IB3VIYZZH"
    assert sellers["A3DESELLERBENCH"]["ordersInWindow"] >= 10_000
    assert (await client.get("/_sandbox/sellers")).json() == config["sellers"]


@pytest.mark.asyncio
async def test_seed_makes_data_deterministic(make_client) -> None:
    async def first_orders(seed: str) -> list[str]:
        client = await make_client(SandboxConfig(seed=seed, time_scale=60))
        from sandbox_helpers import all_orders_v0, connect

        token = (await connect(client))["access_token"]
        return [
            o["AmazonOrderId"]
            for o in await all_orders_v0(client, token, CreatedAfter="2020-01-01T00:00:00Z")
        ]

    assert await first_orders("a") == await first_orders("a")
    assert await first_orders("a") != await first_orders("b")


@pytest.mark.asyncio
async def test_state_dir_keeps_timeline_and_redirect_uris_across_restarts(
    make_client, tmp_path
) -> None:
    config = SandboxConfig(time_scale=1, state_dir=str(tmp_path))
    first = await make_client(config)
    await first.post("/_sandbox/redirect-uris", json={"uri": "http://127.0.0.1:40001/cb"})
    advanced = (
        await first.post("/_sandbox/sellers/A12BCIS2R7HD4D/advance", json={"seconds": 86400 * 4})
    ).json()
    before = (await first.get("/_sandbox/config")).json()
    restarted = (await (await make_client(config)).get("/_sandbox/config")).json()
    assert restarted["anchor"] == before["anchor"]
    assert "http://127.0.0.1:40001/cb" in restarted["redirectUris"]
    fr = next(s for s in restarted["sellers"] if s["sellingPartnerId"] == "A12BCIS2R7HD4D")
    assert fr["ordersToDate"] == 94 + len(advanced["newOrderIds"])


def test_the_double_s_settings_keep_their_variables_names() -> None:
    """The README, docs/SANDBOX.md, the dev stack and the deploy files set these names."""
    from keybuzz_double_amazon import DOUBLE
    from keybuzz_double_amazon.env import AmazonDoubleSettings
    from keybuzz_sandbox.config import settings_variables

    assert DOUBLE.settings is AmazonDoubleSettings
    assert settings_variables(AmazonDoubleSettings, DOUBLE.variables_prefix) == [
        "SANDBOX_SECRET",
        "SANDBOX_CLIENT_ID",
        "SANDBOX_CLIENT_SECRET",
        "SANDBOX_APPLICATION_ID",
        "SANDBOX_APP_DRAFT",
        "SANDBOX_REDIRECT_URIS",
        "SANDBOX_SMTP_HOST",
        "SANDBOX_SMTP_PORT",
        "SANDBOX_REPLY_SMTP_HOST",
        "SANDBOX_REPLY_SMTP_PORT",
        "SANDBOX_BENCH_ORDERS",
        "SANDBOX_FAULT_ERROR_RATE",
        "SANDBOX_FAULT_ERROR_STATUSES",
        "SANDBOX_FAULT_LATENCY_MS",
        "SANDBOX_FAULT_MALFORMED_RATE",
        "SANDBOX_FAULT_MALFORMED_KIND",
        "SANDBOX_FAULT_OPERATIONS",
        "SANDBOX_APP_ROLES",
        "SANDBOX_LISTING_LAG_SECONDS",
        "SANDBOX_REPORT_LAG_SECONDS",
        "SANDBOX_REPORT_GZIP_MIN_BYTES",
        "SANDBOX_REPORT_GZIP_DECLARATION",
        "SANDBOX_SQS_ENDPOINT",
    ]


@pytest.mark.parametrize(
    "roles",
    ["Tax-Remittance", "pricing,DIRECT-TO-CONSUMER-SHIPPING", "tax remittance", "billing"],
)
def test_a_role_off_its_spelling_stops_the_double_at_start_up_naming_it(roles: str) -> None:
    """A role in another case or an unknown one would be one not granted: refused instead,
    like any variable off its kind (the roles' spellings: docs/SANDBOX.md)."""
    from keybuzz_sandbox.config import ConfigError

    with pytest.raises(ConfigError, match="SANDBOX_APP_ROLES"):
        SandboxConfig.from_env({"SANDBOX_APP_ROLES": roles})


@pytest.mark.asyncio
async def test_the_roles_named_are_granted_whatever_the_spaces_around_them(make_client) -> None:
    config = SandboxConfig.from_env(
        {"SANDBOX_TIME_SCALE": "60", "SANDBOX_APP_ROLES": " tax-remittance ,pricing , "}
    )
    described = (await (await make_client(config)).get("/_sandbox/config")).json()
    assert described["appRoles"] == ["pricing", "tax-remittance"]
