"""`make run`'s banner tells a newcomer what can be connected against the doubles: every
marketplace the registry serves by a credential form, with a seeded shop of its double
and the credentials that connect it, built from the registry (a marketplace added to it
shows up with no edit of the devstack)."""

from __future__ import annotations

import asyncio

import httpx
from keybuzz_devstack import stack
from keybuzz_sandbox.seeded import seeded_shops
from keybuzz_shared.connectors.registry import connectors


def _lines_by_name(lines: list[str]) -> dict[str, str]:
    forms = [c for c in connectors() if c.credential_fields]
    return {
        c.display_name: next(line for line in lines if line.strip().startswith(c.display_name))
        for c in forms
    }


async def _seeded(sandbox_url: str) -> dict[str, dict[str, str]]:
    forms = [c.marketplace for c in connectors() if c.credential_fields]
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        found = await seeded_shops(http, forms)
    return {m: dict(s.shop.credentials) for m, s in found.items()}


def test_every_served_credential_marketplace_shows_a_seeded_shop_that_connects(
    sandbox_url: str,
) -> None:
    lines = stack.connectable_shops(sandbox_url)
    seeded = asyncio.run(_seeded(sandbox_url))
    shown = _lines_by_name(lines)
    for connector in (c for c in connectors() if c.credential_fields):
        line = shown[connector.display_name]
        assert "no seeded shop" not in line, line
        credentials = seeded[connector.marketplace]
        for field in connector.credential_fields:
            assert f"{field.json_name}={credentials[field.name]}" in line, (field, line)
    assert any(line.strip().startswith(f"all seeded shops: curl {sandbox_url}/") for line in lines)


def test_a_served_marketplace_without_a_double_is_said_so() -> None:
    lines = stack.connectable_shops("http://127.0.0.1:9")  # nothing listens: no double at all
    assert all("no seeded shop" in line for line in _lines_by_name(lines).values())
