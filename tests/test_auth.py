"""Tenant endpoints: a JWT plus X-Tenant-Id, and a user only reaches their own tenants."""

import asyncio
import time

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


def signed(claims: dict[str, object], secret: str = DEV_JWT_SECRET) -> str:
    """A token with exactly these claims (issue_token always adds sub, iat and exp)."""
    return jwt.encode(claims, secret, algorithm="HS256")


def in_(seconds: int) -> int:
    return int(time.time()) + seconds


async def whoami(service, token: str, tenant: str = "a"):
    async with service.client() as http:
        return await http.get("/whoami", headers={**bearer(token), "X-Tenant-Id": tenant})


async def test_token_without_exp_is_refused(probe):
    response = await whoami(probe, signed({"sub": "u", "tenants": ["a"], "iat": in_(0)}))
    assert response.status_code == 401
    assert response.json()["message"] == 'invalid token: Token is missing the "exp" claim'


@pytest.mark.parametrize(
    "tenants",
    ["a", {"a": True}, {}, [1, 2], [["a"]], None],
    ids=["string", "object", "empty-object", "numbers", "nested", "null"],
)
async def test_tenants_claim_of_the_wrong_type_is_refused(probe, tenants):
    token = signed({"sub": "u", "tenants": tenants, "iat": in_(0), "exp": in_(60)})
    response = await whoami(probe, token)
    assert response.status_code == 401
    assert "'tenants' must be a list of tenant ids" in response.json()["message"]


async def test_role_claim_of_the_wrong_type_is_refused(probe):
    token = signed({"sub": "u", "role": ["superadmin"], "iat": in_(0), "exp": in_(60)})
    response = await whoami(probe, token, tenant="z")
    assert response.status_code == 401
    assert "'role' must be a string" in response.json()["message"]


@pytest.mark.parametrize(
    "claims, accepted",
    [
        ({"iat": in_(0), "exp": in_(24 * 3600 - 60)}, True),
        ({"iat": in_(0), "exp": in_(24 * 3600 + 60)}, False),
        ({"iat": in_(-3600), "exp": in_(23 * 3600 + 60)}, False),  # span counts, not what is left
        ({"exp": in_(30 * 24 * 3600)}, False),  # no iat: the lifetime counts from now
        ({"exp": in_(600)}, True),
    ],
    ids=["just-under-24h", "over-24h", "span-over-24h", "no-iat-30-days", "no-iat-short"],
)
async def test_tokens_living_longer_than_the_maximum_are_refused(probe, claims, accepted):
    response = await whoami(probe, signed({"sub": "u", "tenants": ["a"], **claims}))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 401
        assert "longer than the maximum of 86400 seconds" in response.json()["message"]


async def test_maximum_lifetime_is_configurable(start_service):
    probe = await start_service(
        DEFINITION, VAULT_TOKEN=DEV_VAULT_ROOT_TOKEN, JWT_MAX_LIFETIME_SECONDS="600"
    )
    short = await whoami(probe, issue_token(DEV_JWT_SECRET, "u", ["a"], ttl_seconds=600))
    longer = await whoami(probe, issue_token(DEV_JWT_SECRET, "u", ["a"], ttl_seconds=3600))
    assert (short.status_code, longer.status_code) == (200, 401)


async def test_issuer_is_checked_when_configured(start_service, probe):
    issuer = "https://app.keybuzz.test"
    strict = await start_service(DEFINITION, VAULT_TOKEN=DEV_VAULT_ROOT_TOKEN, JWT_ISSUER=issuer)
    right = issue_token(DEV_JWT_SECRET, "u", ["a"], issuer=issuer)
    other = issue_token(DEV_JWT_SECRET, "u", ["a"], issuer="https://evil.test")
    none = issue_token(DEV_JWT_SECRET, "u", ["a"])
    assert (await whoami(strict, right)).status_code == 200
    refused = [await whoami(strict, token) for token in (other, none)]
    assert [r.status_code for r in refused] == [401, 401]
    assert refused[0].json()["message"] == "invalid token: Invalid issuer"
    assert refused[1].json()["message"] == 'invalid token: Token is missing the "iss" claim'
    # Without JWT_ISSUER, iss is not looked at.
    assert (await whoami(probe, other)).status_code == 200


async def test_a_token_accepted_before_is_refused_once_it_expires(probe):
    """Verified tokens are kept (keybuzz_shared.auth), each only until its own exp."""
    now = int(time.time())
    token = jwt.encode(
        {"sub": "u", "tenants": ["a"], "iat": now, "exp": now + 2}, DEV_JWT_SECRET, "HS256"
    )
    headers = {**bearer(token), "X-Tenant-Id": "a"}
    async with probe.client() as http:
        assert (await http.get("/whoami", headers=headers)).status_code == 200
        assert (await http.get("/whoami", headers=headers)).status_code == 200  # kept
        # Kept for what it says: it opens no other tenant.
        other = await http.get("/whoami", headers={**bearer(token), "X-Tenant-Id": "b"})
        assert other.status_code == 403
        await asyncio.sleep(max(0.0, now + 2.2 - time.time()))
        expired = await http.get("/whoami", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
