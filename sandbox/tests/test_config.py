"""Settings, health and the sandbox's self-description."""

from __future__ import annotations

import pytest
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.config import ConfigError, config_from_env
from keybuzz_sandbox.doubles import doubles


@pytest.mark.asyncio
async def test_health(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_defaults_are_the_development_values() -> None:
    config = config_from_env({})
    assert (config.host, config.port, config.public_url) == (
        "127.0.0.1",
        8900,
        "http://127.0.0.1:8900",
    )
    assert config.client_id == "amzn1.application-oa2-client.keybuzz-sandbox"
    assert config.client_secret == "keybuzz-sandbox-secret"
    assert config.application_id == "amzn1.sp.solution.keybuzz-sandbox"
    assert config.time_scale == 1.0 and config.app_draft is True


def test_environment_overrides_and_errors_name_the_variable() -> None:
    fnac_settings = doubles()["fnac"].settings  # a double's own, read as the sandbox's
    assert fnac_settings is not None
    config = config_from_env(
        {
            "SANDBOX_PORT": "9911",
            "SANDBOX_TIME_SCALE": "60",
            "SANDBOX_APP_DRAFT": "false",
            "SANDBOX_SEED": "other",
            "SANDBOX_FNAC_EXTRA_SHOPS": "10000",
        }
    )
    assert config.of(fnac_settings).extra_shops == 10_000
    assert config_from_env({}).of(fnac_settings).extra_shops == 0
    assert (config.port, config.public_url, config.time_scale, config.app_draft, config.seed) == (
        9911,
        "http://127.0.0.1:9911",
        60.0,
        False,
        "other",
    )
    for name, value in (
        ("SANDBOX_TIME_SCALE", "0"),
        ("SANDBOX_PORT", "x"),
        ("SANDBOX_APP_DRAFT", "maybe"),
        ("SANDBOX_FNAC_EXTRA_SHOPS", "-1"),
        ("SANDBOX_FNAC_BENCH_ORDERS", "0"),
        ("SANDBOX_MIRAKL_FREQUENCY_FACTOR", "fast"),
    ):
        with pytest.raises(ConfigError, match=name):
            config_from_env({name: value})


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
