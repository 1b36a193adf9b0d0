"""Settings, health and the sandbox's self-description."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from keybuzz_sandbox.config import (
    ConfigError,
    config_from_env,
    double_settings,
    settings_variables,
)
from keybuzz_sandbox.double_kit.ports import StackPort
from keybuzz_sandbox.doubles import doubles


def _amazon_settings() -> type:
    """Amazon's double's settings, found as the sandbox finds them (by entry point)."""
    settings = doubles()["amazon"].settings
    assert settings is not None
    return settings


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
    amazon = config.of(_amazon_settings())
    assert amazon.client_id == "amzn1.application-oa2-client.keybuzz-sandbox"
    assert amazon.client_secret == "keybuzz-sandbox-secret"
    assert amazon.application_id == "amzn1.sp.solution.keybuzz-sandbox"
    assert config.time_scale == 1.0 and amazon.app_draft is True


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
    app_draft = config.of(_amazon_settings()).app_draft
    assert (config.port, config.public_url, config.time_scale, app_draft, config.seed) == (
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


def test_the_reply_front_takes_its_login_on_a_loopback_address_only() -> None:
    assert config_from_env({}).reply_front_login is None  # no login: the front does not serve
    config = config_from_env({"SANDBOX_REPLY_FRONT_PASSWORD": "s3cret-front-password"})
    assert config.reply_front_login is not None
    assert config.reply_front_login.username == "keybuzz-poller"
    assert config.reply_front_login.password == "s3cret-front-password"
    assert "s3cret-front-password" not in repr(config) and "s3cret" not in str(config)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        env = {"SANDBOX_REPLY_FRONT_HOST": host, "SANDBOX_REPLY_FRONT_PASSWORD": "p"}
        assert config_from_env(env).reply_front_host == host
    for host in ("0.0.0.0", "::", "192.168.1.10", "sandbox.example"):
        env = {"SANDBOX_REPLY_FRONT_HOST": host, "SANDBOX_REPLY_FRONT_PASSWORD": "p"}
        with pytest.raises(ConfigError, match="SANDBOX_REPLY_FRONT_HOST"):
            config_from_env(env)


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    names: tuple[str, ...] = ()


class Spare(msgspec.Struct, frozen=True, kw_only=True):
    """A double's settings, each kind of field ``double_settings`` reads."""

    secret: str = msgspec.field(default="dev", name="key")
    draft: bool = True
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 1
    limits: Limits = msgspec.field(default_factory=Limits, name="fault")


def test_a_double_s_settings_are_read_by_the_names_it_gives() -> None:
    """A field under its own name or the one ``msgspec.field(name=…)`` gives, a sequence
    comma-separated, a Struct field's fields after its variable; a refused value names its
    variable, however deep."""
    env = {"X_KEY": " s ", "X_DRAFT": "off", "X_FAULT_RATE": "0.5", "X_FAULT_NAMES": "a, b,"}
    assert double_settings(Spare, "X_", env) == Spare(
        secret="s", draft=False, limits=Limits(rate=0.5, names=("a", "b"))
    )
    assert double_settings(Spare, "X_", {"X_KEY": " "}) == Spare()
    assert settings_variables(Spare, "X_") == [
        "X_KEY",
        "X_DRAFT",
        "X_PORT",
        "X_FAULT_RATE",
        "X_FAULT_NAMES",
    ]
    for name, value in (("X_FAULT_RATE", "2"), ("X_PORT", "70000"), ("X_DRAFT", "maybe")):
        with pytest.raises(ConfigError, match=f"{name}='{value}' is not valid"):
            double_settings(Spare, "X_", {name: value})


class Stacked(msgspec.Struct, frozen=True, kw_only=True):
    mx_port: StackPort = 2525
    own_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 2526


def test_a_stack_port_s_default_moves_with_the_stack_s_offset() -> None:
    """A ``StackPort`` left unset is its default shifted by KEYBUZZ_PORT_OFFSET, as every
    port of that stack is; one set is taken as set; a port not of the stack stays put; an
    offset the stack refuses names its variable."""
    assert double_settings(Stacked, "X_", {}) == Stacked()
    moved = {"KEYBUZZ_PORT_OFFSET": " 150 "}
    assert double_settings(Stacked, "X_", moved) == Stacked(mx_port=2675)
    assert double_settings(Stacked, "X_", {**moved, "X_MX_PORT": "2600"}).mx_port == 2600
    for raw in ("two hundred", "-1", "60000"):
        with pytest.raises(ConfigError, match=f"KEYBUZZ_PORT_OFFSET='{raw}'"):
            double_settings(Stacked, "X_", {"KEYBUZZ_PORT_OFFSET": raw})
