"""`make run`'s banner tells a newcomer what can be connected against the doubles: every
marketplace the registry serves, as its connection kind says a seller connects it — a
credential form with a seeded shop of its double and the credentials that connect it, or
consent through oauth's start — built from the registry (a marketplace added to it shows
up with no edit of the devstack)."""

from __future__ import annotations

import asyncio

import httpx
from keybuzz_devstack import stack
from keybuzz_oauth.app import base_path
from keybuzz_sandbox.seeded import seeded_shops
from keybuzz_shared.connectors.registry import connectors
from keybuzz_shared.connectors.seam import Connector, connects_by

OAUTH_URL = "http://127.0.0.1:8001"


def _by_kind(kind: str) -> list[Connector]:
    return [c for c in connectors() if connects_by(c) == kind]


def _lines_by_name(lines: list[str]) -> dict[str, list[str]]:
    """Each served marketplace's lines of the banner (one, when it is listed once)."""
    return {
        c.display_name: [line for line in lines if line.strip().startswith(f"{c.display_name} ")]
        for c in connectors()
        if connects_by(c) is not None
    }


async def _seeded(sandbox_url: str) -> dict[str, dict[str, str]]:
    served = [c.marketplace for c in connectors()]
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        found = await seeded_shops(http, served)
    return {m: {"name": s.shop.name, **s.shop.credentials} for m, s in found.items()}


def test_every_served_credential_marketplace_shows_a_seeded_shop_that_connects(
    sandbox_url: str,
) -> None:
    lines = stack.connectable_shops(sandbox_url, OAUTH_URL)
    seeded = asyncio.run(_seeded(sandbox_url))
    shown = _lines_by_name(lines)
    for connector in _by_kind("CREDENTIALS"):
        [line] = shown[connector.display_name]
        assert "no seeded shop" not in line, line
        credentials = seeded[connector.marketplace]
        for field in connector.credential_fields:
            assert f"{field.json_name}={credentials[field.name]}" in line, (field, line)
    assert any(line.strip().startswith(f"all seeded shops: curl {sandbox_url}/") for line in lines)


def test_a_consent_marketplace_shows_oauths_start_and_no_credential_form(
    sandbox_url: str,
) -> None:
    """eBay declares credential fields (what Vault keeps of a consent), yet oauth refuses a
    form for it: its line says where consent starts, never a field to type."""
    lines = stack.connectable_shops(sandbox_url, OAUTH_URL)
    seeded = asyncio.run(_seeded(sandbox_url))
    shown = _lines_by_name(lines)
    consent = [c for c in connectors() if c.redirect_flow is not None]  # oauth's own rule
    assert consent, "no consent marketplace is served"
    for connector in consent:
        [line] = shown[connector.display_name]
        start = f"{OAUTH_URL}{base_path(connector.marketplace)}/oauth/start"
        assert f"consent at POST {start}" in line, line
        assert not any(f"{f.json_name}=" in line for f in connector.credential_fields), line
        if connector.marketplace in seeded:  # a double listing its sellers: one to sign in as
            assert f"signing in as {seeded[connector.marketplace]['name']} " in line, line


def test_a_served_marketplace_without_a_double_is_said_so() -> None:
    lines = stack.connectable_shops("http://127.0.0.1:9")  # nothing listens: no double at all
    shown = _lines_by_name(lines)
    for connector in _by_kind("CREDENTIALS"):
        [line] = shown[connector.display_name]
        assert "no seeded shop" in line, line
    for connector in _by_kind("OAUTH_REDIRECT"):
        [line] = shown[connector.display_name]
        assert "consent at POST" in line and "signing in" not in line, line
