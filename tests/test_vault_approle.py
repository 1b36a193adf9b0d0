"""AppRole against a real OpenBao: the dev root token is never sent, service tokens are renewed.

OpenBao refuses to enable audit devices over its API, so this OpenBao of the
test's own declares a file audit device in its configuration. The audit trail
records every request with the HMAC of the token that made it, which is how
the tests see which token was sent, and whether any request was refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from keybuzz_connector_amazon.credentials import APP_CREDENTIALS_PATH
from keybuzz_devstack import bootstrap, infra
from keybuzz_shared.settings import DEV_VAULT_TOKEN, CommonSettings, load_settings
from keybuzz_shared.vault import VaultClient, VaultError

ROLE = "keybuzz-orders"
TOKEN_TTL = 3  # seconds: several renewals and logins happen within one test
TOKEN_MAX_TTL = 8
RENEW_SELF = "auth/token/renew-self"
APP_READ = "secret/data/keybuzz/amazon_spapi/app"


@dataclass
class AppRoleVault:
    url: str
    role_id: str
    secret_id: str
    audit_log: Path
    root_token_hash: str

    def root(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Vault-Token": DEV_VAULT_TOKEN})

    def audit_mark(self) -> int:
        return self.audit_log.stat().st_size

    def audit_since(self, mark: int) -> list[dict[str, Any]]:
        with self.audit_log.open("rb") as trail:
            trail.seek(mark)
            return [json.loads(line) for line in trail.read().splitlines() if line.strip()]


@pytest.fixture
def approle_vault(tmp_path: Path, infra_root: Path) -> Iterator[AppRoleVault]:
    audit_log = tmp_path / "audit.log"
    config = tmp_path / "audit.hcl"
    config.write_text(
        f'audit "file" "trail" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n'
    )
    # The root token is the settings' development default: were it ever sent, it would work.
    spec = infra.openbao_spec(infra.free_port(), root_token=DEV_VAULT_TOKEN)
    spec.command.append(f"-config={config}")
    server = infra.RunningServer(spec, infra_root / "openbao-approle.log").start(timeout=30)
    try:
        bootstrap.seed_vault(spec.url, DEV_VAULT_TOKEN)  # app credentials and policies
        with httpx.Client(base_url=spec.url, headers={"X-Vault-Token": DEV_VAULT_TOKEN}) as root:
            yield _approle(root, spec.url, audit_log)
    finally:
        server.stop()


def _approle(root: httpx.Client, url: str, audit_log: Path) -> AppRoleVault:
    root.post("/v1/sys/auth/approle", json={"type": "approle"}).raise_for_status()
    role = {"token_policies": [ROLE], "token_ttl": TOKEN_TTL, "token_max_ttl": TOKEN_MAX_TTL}
    root.post(f"/v1/auth/approle/role/{ROLE}", json=role).raise_for_status()
    role_id = root.get(f"/v1/auth/approle/role/{ROLE}/role-id").json()["data"]["role_id"]
    secret = root.post(f"/v1/auth/approle/role/{ROLE}/secret-id").json()["data"]["secret_id"]
    hashed = root.post("/v1/sys/audit-hash/trail", json={"input": DEV_VAULT_TOKEN}).json()
    return AppRoleVault(url, role_id, secret, audit_log, hashed["data"]["hash"])


def _client_as_the_frame_builds_it(vault: AppRoleVault) -> VaultClient:
    """Settings as a deployment sets them: AppRole given, VAULT_TOKEN left at its default."""
    settings = load_settings(
        CommonSettings,
        {
            "VAULT_ADDR": vault.url,
            "VAULT_ROLE_ID": vault.role_id,
            "VAULT_SECRET_ID": vault.secret_id,
        },
    )
    assert settings.vault_token == DEV_VAULT_TOKEN  # the default that must stay unused
    return VaultClient(
        settings.vault_addr,
        token=settings.vault_token,
        cacert=settings.vault_cacert,
        role_id=settings.vault_role_id,
        secret_id=settings.vault_secret_id,
    )


def _requests(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["request"] for e in entries if e["type"] == "request"]


def reads_since_second_login(vault: AppRoleVault, mark: int) -> int:
    """The reads the audit trail shows answered after the second login since ``mark``."""
    paths = [r["path"] for r in _requests(vault.audit_since(mark))]
    logins = [i for i, path in enumerate(paths) if path == "auth/approle/login"]
    return 0 if len(logins) < 2 else paths[logins[1] :].count(APP_READ)


async def test_reads_outlive_several_token_ttls_without_the_root_token(approle_vault):
    vault = _client_as_the_frame_builds_it(approle_vault)
    mark = approle_vault.audit_mark()
    loop = asyncio.get_running_loop()
    # Read until the audit trail shows a second login (past the max TTL: renewals no longer
    # do), a read after it: waited on, not a window; the bound is for a hang only.
    deadline = loop.time() + 4 * TOKEN_MAX_TTL
    reads = 0
    while loop.time() < deadline and reads_since_second_login(approle_vault, mark) < 1:
        app = await vault.read(APP_CREDENTIALS_PATH)
        assert app is not None and app["client_id"] == bootstrap.SANDBOX_APP["client_id"]
        reads += 1
        await asyncio.sleep(0.2)
    assert await vault.is_ready()
    await vault.aclose()

    entries = approle_vault.audit_since(mark)
    requests = _requests(entries)
    tokens = {r.get("client_token") for r in requests}
    assert approle_vault.root_token_hash not in tokens, "the dev root token was sent"
    paths = [r["path"] for r in requests]
    assert paths.count(APP_READ) == reads
    assert paths.count(RENEW_SELF) >= 2, paths  # renewed at 2/3 of the TTL
    assert paths.count("auth/approle/login") >= 2, paths  # and a new login at the max TTL
    # Renewed before expiry: Vault never had to refuse a request for an expired token.
    # (A renew-self refused at the max TTL is expected: it is followed by a new login.)
    refused = [
        e["request"]["path"]
        for e in entries
        if e["type"] == "response" and e.get("error") and e["request"]["path"] != RENEW_SELF
    ]
    assert refused == []
    # A refused renewal (max TTL reached) is followed at once by a new login.
    for i, entry in enumerate(entries):
        if entry["type"] == "response" and entry.get("error"):
            following = _requests(entries[i + 1 :])
            assert following and following[0]["path"] == "auth/approle/login", following[:1]


async def test_a_revoked_service_token_is_replaced_by_a_new_login(approle_vault):
    vault = _client_as_the_frame_builds_it(approle_vault)
    assert await vault.read(APP_CREDENTIALS_PATH) is not None
    with approle_vault.root() as root:  # an operator revokes every AppRole token
        root.put("/v1/sys/leases/revoke-prefix/auth/approle/login").raise_for_status()
    mark = approle_vault.audit_mark()

    assert await vault.read(APP_CREDENTIALS_PATH) is not None
    await vault.aclose()
    paths = [r["path"] for r in _requests(approle_vault.audit_since(mark))]
    assert paths.count("auth/approle/login") == 1
    assert approle_vault.root_token_hash not in {
        r.get("client_token") for r in _requests(approle_vault.audit_since(mark))
    }


async def test_a_refused_login_is_a_clear_error_without_the_secret(approle_vault):
    settings_like = {"token": DEV_VAULT_TOKEN, "role_id": approle_vault.role_id}
    vault = VaultClient(approle_vault.url, secret_id="not-the-secret-id", **settings_like)
    mark = approle_vault.audit_mark()
    with pytest.raises(VaultError) as info:
        await vault.read(APP_CREDENTIALS_PATH)
    assert "auth/approle/login" in str(info.value)
    assert "not-the-secret-id" not in str(info.value)
    assert not await vault.is_ready()
    await vault.aclose()
    tokens = {r.get("client_token") for r in _requests(approle_vault.audit_since(mark))}
    assert approle_vault.root_token_hash not in tokens


class AnswersTakeTime:
    """A monotonic clock that moves only when told, and by ``next_answer`` when the next
    answer arrives: a login answered late, without waiting for it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.next_answer = 0.0

    def __call__(self) -> float:
        return self.now

    async def answered(self, response: httpx.Response) -> None:
        self.now += self.next_answer
        self.next_answer = 0.0


async def test_a_lease_counts_from_when_the_login_left_not_from_its_late_answer(approle_vault):
    """Vault's TTL starts when it answers, at the soonest when the login left: counted from a
    late answer, the token would be renewed after Vault let it expire."""
    clock = AnswersTakeTime()
    vault = VaultClient(
        approle_vault.url,
        role_id=approle_vault.role_id,
        secret_id=approle_vault.secret_id,
        clock=clock,
    )
    vault._http.event_hooks["response"].append(clock.answered)  # the client's own pool
    mark = approle_vault.audit_mark()
    clock.next_answer = TOKEN_TTL / 2  # the login is answered half a TTL after it left
    assert await vault.read(APP_CREDENTIALS_PATH) is not None
    clock.now += TOKEN_TTL / 3  # 5/6 of the TTL since the login left, 1/3 since its answer
    assert await vault.read(APP_CREDENTIALS_PATH) is not None
    await vault.aclose()
    paths = [r["path"] for r in _requests(approle_vault.audit_since(mark))]
    assert paths == [
        "auth/approle/login",
        "secret/data/keybuzz/amazon_spapi/app",
        RENEW_SELF,
        "secret/data/keybuzz/amazon_spapi/app",
    ]
