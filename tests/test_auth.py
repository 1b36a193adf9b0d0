"""Tenant endpoints: a JWT plus X-Tenant-Id, and a user only reaches their own tenants."""

import jwt
import pytest
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET

from tests.probe_service import DEFINITION


@pytest.fixture
async def probe(start_service):
    return await start_service(DEFINITION, VAULT_TOKEN=DEV_VAULT_ROOT_TOKEN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers, status, fragment",
    [
        ({}, 401, "missing bearer token"),
        ({"Authorization": "Basic abc"}, 401, "missing bearer token"),
        ({**bearer("not.a.jwt"), "X-Tenant-Id": "a"}, 401, "invalid token"),
        (
            {
                **bearer(issue_token("another-secret-of-at-least-32-bytes", "u", ["a"])),
                "X-Tenant-Id": "a",
            },
            401,
            "invalid token",
        ),
        (
            {
                **bearer(issue_token(DEV_JWT_SECRET, "u", ["a"], ttl_seconds=-10)),
                "X-Tenant-Id": "a",
            },
            401,
            "expired",
        ),
        ({**bearer(issue_token(DEV_JWT_SECRET, "u", ["a"]))}, 400, "X-Tenant-Id"),
        (
            {**bearer(issue_token(DEV_JWT_SECRET, "u", ["a"])), "X-Tenant-Id": "../x"},
            400,
            "not a valid",
        ),
        (
            {**bearer(issue_token(DEV_JWT_SECRET, "u", ["a"])), "X-Tenant-Id": "b"},
            403,
            "may not access tenant b",
        ),
    ],
)
async def test_refusals_are_clear_json(probe, headers, status, fragment):
    async with probe.client() as http:
        response = await http.get("/whoami", headers=headers)
    assert response.status_code == status
    assert fragment in response.json()["message"]


async def test_token_with_none_algorithm_is_refused(probe):
    token = jwt.encode({"sub": "u", "tenants": ["a"], "exp": 4102444800}, None, algorithm="none")
    async with probe.client() as http:
        response = await http.get("/whoami", headers={**bearer(token), "X-Tenant-Id": "a"})
    assert response.status_code == 401


async def test_member_and_superadmin_get_through(probe):
    async with probe.client() as http:
        member = await http.get(
            "/whoami",
            headers={**bearer(issue_token(DEV_JWT_SECRET, "u1", ["a", "b"])), "X-Tenant-Id": "b"},
        )
        admin = await http.get(
            "/whoami",
            headers={
                **bearer(issue_token(DEV_JWT_SECRET, "root", role="superadmin")),
                "X-Tenant-Id": "z",
            },
        )
    assert member.json() == {"tenantId": "b", "user": "u1"}
    assert admin.json() == {"tenantId": "z", "user": "root"}
