"""keybuzz_sandbox.doubles: each double says which settings point a service at it, and the
dev stack takes them from there (fast, no servers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from keybuzz_sandbox import SandboxConfig, doubles
from keybuzz_sandbox.double_entry import Double


def test_the_dev_stack_points_services_at_every_double() -> None:
    from keybuzz_devstack import stack

    _, shared = stack.plan_parts({})
    for name, double in doubles.doubles().items():
        settings = double.service_env(stack.SANDBOX_URL)
        assert settings.items() <= shared.items(), name
        # Each value an address, or a document of addresses (Mirakl's catalogue): the
        # sandbox's; or a double's public DKIM records (ManoMano's), which name none.
        for value in settings.values():
            if value.startswith("{") and all(
                record.startswith("v=DKIM1;") for record in json.loads(value).values()
            ):
                continue
            addresses = re.findall(r"https?://[^\"\s,]+", value)
            assert addresses and all(a.startswith(stack.SANDBOX_URL) for a in addresses), value
    assert shared["FNAC_API_URL"] == f"{stack.SANDBOX_URL}/fnac/api.php/"


def test_two_doubles_setting_one_variable_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    copy = Double("copy", lambda url: {"FNAC_API_URL": f"{url}/copy/"})
    installed = doubles.doubles()
    monkeypatch.setattr(doubles, "doubles", lambda: {**installed, "copy": copy})
    with pytest.raises(ValueError, match="'copy' sets FNAC_API_URL"):
        doubles.service_env("http://127.0.0.1:1")


def test_each_double_registers_itself_by_its_entry_point() -> None:
    """The sandbox's app, the dev stack and the conformance suite find every double through
    its entry point: its routes mounted, its drivers gathered, none of them named there."""
    from importlib.metadata import entry_points

    from keybuzz_sandbox.app import create_app
    from keybuzz_sandbox.conformance import DRIVERS

    points = {p.name: p.value for p in entry_points(group=doubles.GROUP)}
    # Each one in its connector's folder.
    assert points == {name: f"keybuzz_double_{name}:DOUBLE" for name in doubles.doubles()}
    assert {"amazon", "fnac", "cdiscount", "mirakl", "backmarket"} <= set(points)
    paths = {route.path for route in create_app().routes}
    for name, mounted in (
        ("fnac", "/fnac/api.php/{service:str}"),
        ("cdiscount", "/octopia/seller/v2/discussions"),
        ("mirakl", "/mirakl/{operator:str}/api/inbox/threads"),
        ("backmarket", "/backmarket/ws/sav"),
        ("amazon", "/orders/v0/orders"),
    ):
        assert mounted in paths, name
        double = doubles.doubles()[name]
        for marketplace, driver in double.drivers().items():
            assert DRIVERS[marketplace] == driver and driver.marketplace == marketplace
    assert set(DRIVERS) == {
        "FNAC",
        "DARTY",
        "CDISCOUNT",
        "BOULANGER",
        "BACKMARKET",
        "RAKUTEN",
        "EBAY",
        "KAUFLAND",
    }


BUYER_DOMAIN = "contact.manomano.com"  # a domain an installed double takes replies for


def test_two_doubles_taking_replies_for_one_domain_are_refused() -> None:
    copy = Double("copy", lambda url: {}, reply_domains=(BUYER_DOMAIN.upper(),))
    with doubles.registered(copy):
        with pytest.raises(ValueError, match=f"'copy' takes replies for {BUYER_DOMAIN}"):
            doubles.reply_relays()


def test_the_dev_stacks_poller_sends_its_replies_to_the_front() -> None:
    from keybuzz_devstack import stack

    parts, shared = stack.plan_parts({})
    [sandbox] = [p for p in parts if p.name == "sandbox"]
    assert shared["SMTP_RELAY_PORT"] == sandbox.env["SANDBOX_REPLY_FRONT_PORT"]


def test_the_dev_stacks_poller_and_front_share_one_login_kept_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is anonymous on the stack's outbound relay: the sandbox's front takes one login,
    made once per stack, given to the poller only (not to every service), unless the poller
    sends to an outside relay."""
    from keybuzz_devstack import stack

    monkeypatch.setattr(stack, "REPLY_FRONT_LOGIN_FILE", tmp_path / "reply-front-login.json")
    parts, shared = stack.plan_parts({})
    env = {p.name: p.env for p in parts}
    password = env["sandbox"]["SANDBOX_REPLY_FRONT_PASSWORD"]
    assert len(password) >= 32
    assert env["poller"]["SMTP_RELAY_PASSWORD"] == password
    assert env["poller"]["SMTP_RELAY_USERNAME"] == env["sandbox"]["SANDBOX_REPLY_FRONT_USERNAME"]
    assert (tmp_path / "reply-front-login.json").stat().st_mode & 0o777 == 0o600
    assert [name for name, e in env.items() if password in e.values()] == ["sandbox", "poller"]
    assert password not in shared.values()
    again, _ = stack.plan_parts({})  # the same stack keeps its login
    assert {p.name: p.env for p in again}["poller"]["SMTP_RELAY_PASSWORD"] == password
    outside, _ = stack.plan_parts({"SMTP_RELAY_HOST": "relay.example"})
    assert "SMTP_RELAY_PASSWORD" not in {p.name: p.env for p in outside}["poller"]


def test_two_doubles_answering_unknown_paths_are_refused() -> None:
    """An unknown path gets the answer of the one double whose API is at the sandbox's root;
    a second one giving its own is a mistake, not a silent pick."""
    from keybuzz_sandbox.app import create_app

    assert doubles.unknown_path_answer(doubles.doubles()) is not None  # one installed does
    copy = Double("copy", lambda url: {}, unknown_path_at="json:dumps")
    with doubles.registered(copy):
        with pytest.raises(ValueError, match="each answer unknown paths"):
            create_app()


def test_a_sandbox_serves_the_doubles_it_names_and_refuses_a_name_no_double_has() -> None:
    """A test's sandbox of its own double alone (``SandboxConfig.serving``) has that
    double's routes and no other's; every double's when none is named."""
    from keybuzz_sandbox.app import create_app

    def paths(config: SandboxConfig) -> set[str]:
        return {route.path for route in create_app(config).routes}

    every, fnac = paths(SandboxConfig()), paths(SandboxConfig(serving=("fnac",)))
    assert "/_sandbox/fnac/faults" in fnac
    assert "/_sandbox/faults" in every - fnac  # another double's
    with pytest.raises(ValueError, match="no double is named 'nowhere'"):
        create_app(SandboxConfig(serving=("nowhere",)))
