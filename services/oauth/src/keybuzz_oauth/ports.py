"""What oauth's use cases need, as ports: its tables, a unit of work, the credentials in
Vault, Login with Amazon's code exchange and a clock. ``bootstrap.py`` assembles the real
adapters (``store.py`` for the SQL, ``adapters.py`` for Vault and LWA); the unit tests give
in-memory fakes, held to the adapters by a shared contract test
(``tests/test_oauth_store_contract.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keybuzz_shared.amazon import AppCredentials, TenantCredentials, TokenGrant
from keybuzz_shared.uow import StoreUnit

from keybuzz_oauth.connections import Connected, Connection
from keybuzz_oauth.settings import OauthSettings
from keybuzz_oauth.states import ConsumedState, NewStateRow


class OauthStore(Protocol):
    """oauth's tables: ``oauth_states`` and ``marketplace_connections`` (Amazon's rows)."""

    # --- states: expiry is the store's clock (PostgreSQL's ``now()``)

    async def insert_state(self, state: NewStateRow, ttl: float) -> datetime:
        """Stores a new state valid for ``ttl`` seconds; returns when it expires."""
        ...

    async def purge_old_states(self) -> None:
        """Deletes states expired for more than a day."""
        ...

    async def consume_state(self, digest: str) -> ConsumedState | None:
        """Marks the state used and returns what it is bound to; None when it is unknown,
        expired or used already. Of two concurrent calls, only one gets it."""
        ...

    async def state_usage(self, digest: str) -> tuple[bool, datetime | None]:
        """(found, used_at) of a state that could not be consumed, to say why."""
        ...

    async def has_live_state(self, tenant_id: str) -> bool:
        """Whether the tenant has a state neither used nor expired."""
        ...

    # --- serialisation: held until the unit of work ends

    async def lock_seller(self, seller_id: str) -> None: ...

    async def lock_tenants(self, tenant_ids: Sequence[str]) -> None: ...

    # --- connections

    async def tenants_holding_seller(self, seller_id: str, except_tenant: str) -> list[str]:
        """Other tenants the seller is linked to (CONNECTED or REAUTH_REQUIRED), sorted."""
        ...

    async def get_connection(self, tenant_id: str) -> Connection | None: ...

    async def mark_pending(self, tenant_id: str) -> None:
        """PENDING, created if needed; a CONNECTED connection stays CONNECTED."""
        ...

    async def record_failure(self, tenant_id: str, error: str) -> None:
        """``last_error`` set; a PENDING connection becomes ERROR, any other keeps its status."""
        ...

    async def upsert_connected(self, connected: Connected) -> Connection:
        """CONNECTED; the same seller and region keeps the marketplaces already connected
        (sorted, once each), anything else starts afresh; ``last_error`` cleared."""
        ...

    async def mark_disconnected(self, tenant_id: str) -> Connection | None:
        """DISCONNECTED, vault path and error cleared; None when absent or disconnected."""
        ...

    async def mark_reauth_required(
        self, tenant_id: str, seller_id: str | None, reason: str, seen_at: datetime
    ) -> bool:
        """REAUTH_REQUIRED only for a CONNECTED connection (of ``seller_id`` when given)
        connected at or before ``seen_at``; False when nothing changed."""
        ...


class CredentialsVault(Protocol):
    """The LWA app's credentials and the tenants' refresh tokens, in Vault."""

    async def app_credentials(self) -> AppCredentials:
        """``AppCredentialsMissing`` when absent or incomplete, ``VaultError`` when Vault fails."""
        ...

    async def store(self, credentials: TenantCredentials) -> str:
        """Writes (replaces) the tenant's credentials; returns their Vault path."""
        ...

    async def check(self, tenant_id: str) -> TenantCredentials:
        """The stored credentials, from a copy a few seconds old at most (cleared by
        ``store``/``delete``); ``CredentialsMissing`` when absent, ``VaultError``."""
        ...

    async def delete(self, tenant_id: str) -> None:
        """Deletes the tenant's credentials (every version); absent is not an error."""
        ...


class CodeExchange(Protocol):
    """Login with Amazon: an authorization code for a refresh token."""

    async def exchange_code(self, app: AppCredentials, code: str, redirect_uri: str) -> TokenGrant:
        """``InvalidGrant`` for a refused code, ``LwaUnavailable`` when LWA does not
        answer, ``LwaError`` for any other refusal."""
        ...


OauthUnit = StoreUnit[OauthStore]


@dataclass(frozen=True)
class OauthPorts:
    """Everything a use case touches; made once per process (``bootstrap.py``)."""

    connections: OauthStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[OauthUnit]]
    vault: CredentialsVault
    lwa: CodeExchange
    clock: Callable[[], datetime]  # timezone-aware: when credentials were created
    settings: OauthSettings
