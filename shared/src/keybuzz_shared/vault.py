"""Vault (OpenBao) KV v2 client on hvac (DESIGN.md §5).

TLS is always verified: against ``VAULT_CACERT`` when given, else the system
CAs. hvac is synchronous, so every call runs in a worker thread to keep the
event loop free. Values read or written are never logged, and errors name the
path and the failure, never the data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

log = logging.getLogger(__name__)

APP_CREDENTIALS_PATH = "secret/keybuzz/amazon_spapi/app"
T = TypeVar("T")


def tenant_credentials_path(tenant_id: str, marketplace: str = "amazon") -> str:
    return f"secret/keybuzz/tenants/{tenant_id}/{marketplace}_spapi"


def app_credentials_path(app_source: str | None = None) -> str:
    """Several LWA apps may coexist (seeds: a temporary app, then KeyBuzz's own)."""
    if not app_source or app_source == "default":
        return APP_CREDENTIALS_PATH
    return f"{APP_CREDENTIALS_PATH}/{app_source}"


class VaultError(RuntimeError):
    """Vault refused or failed a request."""


class VaultUnavailable(VaultError):
    """Vault could not be reached (network, TLS, sealed)."""


def split_path(path: str) -> tuple[str, str]:
    """``secret/keybuzz/x`` → mount ``secret``, path ``keybuzz/x``."""
    mount, _, rest = path.strip("/").partition("/")
    if not mount or not rest:
        raise ValueError(f"Vault path must be <mount>/<path>: {path!r}")
    return mount, rest


class VaultClient:
    def __init__(
        self,
        addr: str,
        *,
        token: str | None = None,
        cacert: str | None = None,
        role_id: str | None = None,
        secret_id: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        # verify is the CA bundle path or True; never False.
        self._client = hvac.Client(url=addr, token=token, verify=cacert or True, timeout=timeout)
        self._role_id = role_id
        self._secret_id = secret_id
        self.addr = addr

    async def read(self, path: str) -> dict[str, Any] | None:
        """The latest version's data, or None when there is no secret at ``path``."""
        mount, rel = split_path(path)

        def call() -> dict[str, Any] | None:
            try:
                response = self._client.secrets.kv.v2.read_secret_version(
                    path=rel, mount_point=mount, raise_on_deleted_version=True
                )
            except hvac.exceptions.InvalidPath:
                return None
            data = response.get("data", {}).get("data")
            return dict(data) if data else None

        return await self._call("read", path, call)

    async def write(self, path: str, data: dict[str, Any]) -> None:
        mount, rel = split_path(path)
        await self._call(
            "write",
            path,
            lambda: self._client.secrets.kv.v2.create_or_update_secret(
                path=rel, secret=data, mount_point=mount
            ),
        )

    async def delete(self, path: str) -> None:
        """Remove every version and the metadata, so nothing can be undeleted."""
        mount, rel = split_path(path)
        await self._call(
            "delete",
            path,
            lambda: self._client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=rel, mount_point=mount
            ),
        )

    async def is_ready(self) -> bool:
        """Reachable, unsealed and our token (or AppRole) accepted."""
        try:
            await self._call("health", "auth/token/lookup-self", self._lookup_self)
        except VaultError:
            return False
        return True

    def _lookup_self(self) -> None:
        self._ensure_token()
        self._client.auth.token.lookup_self()

    def _ensure_token(self) -> None:
        if self._client.token or not (self._role_id and self._secret_id):
            return
        self._client.auth.approle.login(role_id=self._role_id, secret_id=self._secret_id)

    async def _call(self, action: str, path: str, call: Callable[[], T]) -> T:
        def guarded() -> T:
            self._ensure_token()
            try:
                return call()
            except hvac.exceptions.Forbidden:
                if not self._role_id:
                    raise
                self._client.token = None  # AppRole token expired: log in again once
                self._ensure_token()
                return call()

        try:
            return await asyncio.to_thread(guarded)
        except requests.exceptions.SSLError as exc:
            raise VaultUnavailable(f"Vault {action} {path}: TLS verification failed") from exc
        except requests.exceptions.RequestException as exc:
            raise VaultUnavailable(f"Vault {action} {path}: {type(exc).__name__}") from exc
        except hvac.exceptions.VaultDown as exc:
            raise VaultUnavailable(f"Vault {action} {path}: sealed or down") from exc
        except hvac.exceptions.VaultError as exc:
            raise VaultError(f"Vault {action} {path}: {type(exc).__name__}") from exc
