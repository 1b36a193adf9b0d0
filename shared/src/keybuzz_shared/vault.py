"""Vault (OpenBao) KV v2 client, async on httpx (docs/CONTRACTS.md, "Vault").

One pooled ``httpx.AsyncClient`` per client (the frame makes one client per
process): a read is one HTTP round trip on a kept-alive connection, in the
event loop, not in a worker thread that the default pool would bound
(docs/BENCHMARKS.md, HTTP).

TLS is always verified: against ``VAULT_CACERT`` when given, else the system
CAs. Values read or written are never logged, and errors name the path and
the failure, never the data.

Authentication: a token (development), or AppRole (``role_id``/``secret_id``)
for deployments. With AppRole the configured token is never sent — the
settings default is the development root token — and the service token is
renewed (``renew-self``) once two thirds of its TTL have passed, or replaced by
a fresh login when renewal is refused or the max TTL is near.

Reads asked ``cached`` (a shop's credentials, read at every poll) are kept for
``cache_seconds`` in at most ``cache_size`` entries (the least recently read dropped
first); the client's own write or delete of a path drops its entry, and ``forget`` drops
it when the caller learns the secret changed elsewhere (a reconnect, a key refused).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from cachetools import TTLCache

from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.http_pools import SpreadTransport
from keybuzz_shared.tls import verifying

log = logging.getLogger(__name__)

RENEW_AT_FRACTION = 2 / 3
# Enough connections for hundreds of concurrent requests without queueing in the pools:
# 64 (32 kept alive) over POOLS pools, each request to the next (``SpreadTransport``).
POOLS = 4
POOL_LIMITS = httpx.Limits(max_connections=64 // POOLS, max_keepalive_connections=32 // POOLS)


class VaultError(RuntimeError):
    """Vault refused or failed a request."""


class VaultUnavailable(VaultError, DependencyUnavailable):
    """Vault could not be reached (network, TLS), is sealed or overloaded: try again later."""


def split_path(path: str) -> tuple[str, str]:
    """``secret/keybuzz/x`` → mount ``secret``, path ``keybuzz/x``."""
    mount, _, rest = path.strip("/").partition("/")
    if not mount or not rest:
        raise ValueError(f"Vault path must be <mount>/<path>: {path!r}")
    return mount, rest


# Vault's status codes by name, for error messages an operator can read.
_STATUS_NAMES = {
    400: "InvalidRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "InvalidPath",
    405: "UnsupportedOperation",
    412: "PreconditionFailed",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    501: "VaultNotInitialized",
    502: "BadGateway",
    504: "GatewayTimeout",
}
_BUSY = frozenset({429, 502, 504})  # overloaded or behind a failing proxy: an outage


def tls_context(cacert: str | None) -> ssl.SSLContext:
    """Verification on, always: the private CA when given, else the public CAs."""
    try:
        return verifying(cacert)
    except (OSError, ssl.SSLError) as exc:  # at start-up: say which setting is wrong
        raise ValueError(f"VAULT_CACERT {cacert!r} is not a readable PEM CA bundle: {exc}") from exc


@dataclass
class _Lease:
    """A service token from AppRole and when to renew it (monotonic clock)."""

    token: str
    ttl: float
    login_ttl: float  # what the login granted; renewals shrink as the max TTL nears
    renew_at: float
    expires_at: float


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
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = 0.0,
        cache_size: int = 0,
    ) -> None:
        self.addr = addr
        # Off when either bound is 0; else each secret for cache_seconds at most, the least
        # recently read dropped first beyond cache_size.
        self._cache: TTLCache[str, dict[str, Any]] | None = (
            TTLCache(maxsize=cache_size, ttl=cache_seconds, timer=clock)
            if cache_seconds > 0 and cache_size > 0
            else None
        )
        self._approle = (role_id, secret_id) if role_id and secret_id else None
        # With AppRole the given token is ignored: it is the dev root token by default.
        self._static_token = None if self._approle else token
        self._lease: _Lease | None = None
        self._auth_lock = asyncio.Lock()
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=addr.rstrip("/"),
            transport=SpreadTransport(POOLS, limits=POOL_LIMITS, verify=tls_context(cacert)),
            timeout=timeout,
            headers={"X-Vault-Request": "true"},
        )

    async def read(self, path: str, *, cached: bool = False) -> dict[str, Any] | None:
        """The latest version's data, or None when there is no secret at ``path``;
        ``cached``: as read within ``cache_seconds`` if it was (a copy: callers may change it)."""
        cache = self._cache if cached else None
        if cache is not None and (kept := cache.get(path)) is not None:
            return dict(kept)
        mount, rel = split_path(path)
        body = await self._request("read", path, "GET", f"/v1/{mount}/data/{quote(rel)}")
        data = ((body or {}).get("data") or {}).get("data")  # None on 404: never written or gone
        found = dict(data) if data else None
        if cache is not None and found is not None:  # a missing one is asked again: may come soon
            cache[path] = dict(found)
        return found

    def forget(self, path: str) -> None:
        """The next cached read of ``path`` asks Vault: its secret changed or was refused."""
        if self._cache is not None:
            self._cache.pop(path, None)

    async def write(self, path: str, data: dict[str, Any]) -> None:
        self.forget(path)
        mount, rel = split_path(path)
        url = f"/v1/{mount}/data/{quote(rel)}"
        await self._request("write", path, "POST", url, json={"options": {}, "data": data})

    async def delete(self, path: str) -> None:
        """Remove every version and the metadata, so nothing can be undeleted."""
        self.forget(path)
        mount, rel = split_path(path)
        await self._request("delete", path, "DELETE", f"/v1/{mount}/metadata/{quote(rel)}")

    async def is_ready(self) -> bool:
        """Reachable, unsealed and our token (or AppRole) accepted."""
        try:
            found = await self._request(
                "health", "auth/token/lookup-self", "GET", "/v1/auth/token/lookup-self"
            )
        except VaultError:
            return False
        return found is not None

    async def aclose(self) -> None:
        """Close the connection pool (at shutdown)."""
        await self._http.aclose()

    async def _request(
        self, action: str, path: str, method: str, url: str, json: Any = None
    ) -> dict[str, Any] | None:
        """The JSON body (``{}`` when empty), None on 404; VaultError otherwise."""
        try:
            token, response = await self._send(method, url, json)
            if response.status_code == 403 and self._approle:
                # Our service token was revoked or expired early: log in again, once.
                await self._login_replacing(token)
                _, response = await self._send(method, url, json)
        except httpx.HTTPError as exc:
            raise _unavailable(action, path, exc) from exc
        return _body_or_error(action, path, response)

    async def _send(self, method: str, url: str, json: Any) -> tuple[str | None, httpx.Response]:
        token = await self._token()
        headers = {"X-Vault-Token": token} if token else {}
        return token, await self._http.request(method, url, json=json, headers=headers)

    async def _token(self) -> str | None:
        if not self._approle:
            return self._static_token
        lease = self._lease
        if lease is None or self._clock() >= lease.renew_at:
            lease = await self._refresh_lease(lease)
        return lease.token

    async def _refresh_lease(self, seen: _Lease | None) -> _Lease:
        """Renew or log in, once for all the requests that noticed at the same time."""
        async with self._auth_lock:
            current = self._lease
            if current is not seen and current is not None:
                return current  # another request already did it
            if current is not None and self._clock() < current.expires_at:
                renewed = await self._renew(current)
                if renewed is not None:
                    return renewed
            return await self._login_locked()

    async def _renew(self, lease: _Lease) -> _Lease | None:
        """``renew-self``; None when refused or when the max TTL leaves too little time."""
        sent_at = self._clock()
        response = await self._http.post(
            "/v1/auth/token/renew-self", headers={"X-Vault-Token": lease.token}
        )
        if response.status_code != 200:
            log.info(
                "Vault token renewal refused; logging in again",
                extra={"status": response.status_code},
            )
            return None
        auth = response.json().get("auth") or {}
        ttl = float(auth.get("lease_duration") or 0)
        if ttl < lease.login_ttl / 2:  # capped by the max TTL: a new login lasts longer
            return None
        self._lease = self._new_lease(lease.token, ttl, lease.login_ttl, sent_at)
        return self._lease

    async def _login_replacing(self, refused_token: str | None) -> None:
        async with self._auth_lock:
            if self._lease is None or self._lease.token == refused_token:
                await self._login_locked()

    async def _login_locked(self) -> _Lease:
        assert self._approle is not None
        role_id, secret_id = self._approle
        sent_at = self._clock()
        response = await self._http.post(
            "/v1/auth/approle/login", json={"role_id": role_id, "secret_id": secret_id}
        )
        body = _body_or_error("login", "auth/approle/login", response) or {}
        auth = body.get("auth") or {}
        if not auth.get("client_token"):
            raise VaultError("Vault login auth/approle/login: no token in the answer")
        ttl = float(auth.get("lease_duration") or 0)
        self._lease = self._new_lease(auth["client_token"], ttl, ttl, sent_at)
        log.info("Vault AppRole login", extra={"ttl_seconds": self._lease.ttl})
        return self._lease

    def _new_lease(self, token: str, ttl: float, login_ttl: float, sent_at: float) -> _Lease:
        """Counted from when the request was sent: Vault's TTL starts when it answers, never
        sooner, so a slow answer cannot make us think the token lives longer than it does."""
        if ttl <= 0:  # a token without expiry (e.g. a role with no TTL): never renew
            return _Lease(token, ttl, login_ttl, float("inf"), float("inf"))
        return _Lease(token, ttl, login_ttl, sent_at + ttl * RENEW_AT_FRACTION, sent_at + ttl)


def _body_or_error(action: str, path: str, response: httpx.Response) -> dict[str, Any] | None:
    status = response.status_code
    if status == 404:
        return None
    if status == 503:
        raise VaultUnavailable(f"Vault {action} {path}: sealed or down")
    if status in _BUSY:
        raise VaultUnavailable(f"Vault {action} {path}: {_STATUS_NAMES.get(status, status)}")
    if status >= 400:
        name = _STATUS_NAMES.get(status, f"HTTP {status}")
        raise VaultError(f"Vault {action} {path}: {name}")
    if status == 204 or not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {}


def _unavailable(action: str, path: str, exc: httpx.HTTPError) -> VaultUnavailable:
    if _caused_by_tls(exc):
        return VaultUnavailable(f"Vault {action} {path}: TLS verification failed")
    return VaultUnavailable(f"Vault {action} {path}: {type(exc).__name__}")


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
