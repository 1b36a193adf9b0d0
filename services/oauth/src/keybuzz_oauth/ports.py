"""What oauth's use cases need, as ports: its tables, a unit of work, the credentials in
Vault, the redirect flow's code exchange, the check of a shop's credentials and a clock.
``bootstrap.py`` assembles the real adapters (``store.py`` for the SQL, ``adapters.py``
for Vault and the shops' API, the connector's ``redirect_flow`` for its secrets and its
token endpoint); the unit tests give in-memory fakes, held to the adapters by shared
contract tests (``tests/test_oauth_store_contract.py``,
``tests/test_oauth_shop_verifier_contract.py``).

Connection methods take the row's ``marketplace``: a tenant has one connection per
marketplace."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keybuzz_shared.connectors.seam import AccountVault, CodeExchange
from keybuzz_shared.uow import StoreUnit

from keybuzz_oauth.connections import (
    Connected,
    Connection,
    ShopConnected,
    ShopCredentials,
    ShopIdCollision,
    StoredShop,
)
from keybuzz_oauth.settings import OauthSettings
from keybuzz_oauth.states import ConsumedState, NewStateRow


class OauthStore(Protocol):
    """oauth's tables: ``oauth_states`` (the redirect flow's consents) and ``marketplace_connections``."""

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

    async def has_live_state(self, tenant_id: str, marketplace: str) -> bool:
        """Whether the tenant has a state of that marketplace neither used nor expired."""
        ...

    # --- serialisation: held until the unit of work ends

    async def lock_seller(self, seller_id: str, marketplace: str) -> None: ...

    async def lock_account(self, identity: str) -> None:
        """The account's lock (a shop's identity, whatever its marketplace value)."""
        ...

    async def lock_tenants(self, tenant_ids: Sequence[str], marketplace: str) -> None: ...

    # --- connections

    async def tenants_holding_seller(
        self, seller_id: str, except_tenant: str, marketplace: str
    ) -> list[str]:
        """Other tenants the seller (a shop) is linked to (CONNECTED or REAUTH_REQUIRED), sorted."""
        ...

    async def account_holders(self, identity: str) -> list[tuple[str, str]]:
        """(tenant, marketplace) of every connection holding the account (CONNECTED or
        REAUTH_REQUIRED), whatever its marketplace value; sorted."""
        ...

    async def get_connection(self, tenant_id: str, marketplace: str) -> Connection | None: ...

    async def mark_pending(self, tenant_id: str, marketplace: str) -> None:
        """PENDING, created if needed; a CONNECTED connection stays CONNECTED."""
        ...

    async def record_failure(self, tenant_id: str, error: str, marketplace: str) -> None:
        """``last_error`` set; a PENDING connection becomes ERROR, any other keeps its status."""
        ...

    async def upsert_connected(self, connected: Connected) -> Connection:
        """CONNECTED; the same seller and region keeps the marketplaces already connected
        (sorted, once each), anything else starts afresh; ``last_error`` cleared."""
        ...

    async def upsert_shop_connected(self, connected: ShopConnected) -> Connection:
        """The tenant's connection of that marketplace CONNECTED to the shop (``seller_id``,
        ``identity``), no marketplace ids nor region, ``last_error`` cleared; ``ShopTaken``
        when another connection (another tenant's, or the tenant's own under another
        marketplace value) holds the account (the unit of work is then spoilt: end it)."""
        ...

    async def mark_disconnected(self, tenant_id: str, marketplace: str) -> Connection | None:
        """DISCONNECTED, vault path and error cleared; None when absent or disconnected."""
        ...

    async def ended_as_duplicates(self) -> list[Connection]:
        """Connections ended as refused because another held their shop first (migration
        004), whose ending is not said yet."""
        ...

    async def finish_duplicate(self, tenant_id: str, marketplace: str) -> Connection | None:
        """Said: the flag and the Vault path cleared; None when there was nothing to say."""
        ...

    async def live_shops(self, marketplaces: Sequence[str]) -> list[StoredShop]:
        """The live (CONNECTED, REAUTH_REQUIRED) connections of ``marketplaces`` with a shop
        id, the oldest connected first."""
        ...

    async def holder_of(
        self, shop: StoredShop, seller_id: str, identity: str | None
    ) -> tuple[str, str, str] | None:
        """(connection id, tenant, marketplace) of the oldest other live connection holding
        ``identity``, or ``seller_id`` under the shop's marketplace; None when none does."""
        ...

    async def rewrite_shop_id(self, shop: StoredShop, seller_id: str, identity: str | None) -> bool:
        """The connection's shop id and identity rewritten, if it is still live and still
        holds ``shop.seller_id``; False when it changed since it was read."""
        ...

    async def record_collision(self, shop: StoredShop, canonical_id: str, held_by: str) -> None:
        """Recorded (replacing an earlier record of that connection): the shop's canonical
        id is a shop the connection ``held_by`` holds."""
        ...

    async def shop_id_collisions(self) -> list[ShopIdCollision]:
        """The collisions still standing (both connections live, the first still in its
        old spelling), the oldest found first."""
        ...

    async def mark_reauth_required(
        self,
        tenant_id: str,
        seller_id: str | None,
        reason: str,
        seen_at: datetime,
        marketplace: str,
    ) -> bool:
        """REAUTH_REQUIRED only for a CONNECTED connection (of ``seller_id`` when given)
        connected at or before ``seen_at``; False when nothing changed."""
        ...


class CredentialsVault(Protocol):
    """The shops' credentials typed in (a redirect flow's secrets are its own
    ``AccountVault``, ``RedirectPorts``)."""

    async def store_shop(self, credentials: ShopCredentials) -> None:
        """Writes (replaces) the tenant's shop credentials of that marketplace, at
        the connector's ``credentials_path``."""
        ...

    async def read_shop(self, tenant_id: str, marketplace: str) -> ShopCredentials | None:
        """The stored shop credentials, read now; None when absent or incomplete."""
        ...

    async def delete_shop(self, tenant_id: str, marketplace: str) -> None:
        """Deletes them (every version) and the token its sessions kept beside them
        (``shop_sessions.token_path``); absent is not an error."""
        ...


class ShopTaken(Exception):
    """The shop is linked to another tenant (the store's own guarantee)."""


class ShopRefused(Exception):
    """The marketplace refused the shop's partner id, shop id or key."""


class ShopUnavailable(Exception):
    """The marketplace did not answer (network, timeout, 5xx, 429): nothing is known yet."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShopAnswerUnreadable(Exception):
    """The marketplace answered something that is not its API's answer (or an error code)."""


class ShopCredentialsVerifier(Protocol):
    """The shops' API: do these credentials authenticate?"""

    async def verify(self, credentials: ShopCredentials) -> str:
        """The account's identity (the API and the shop it answered for, the same whichever
        marketplace value names it) when the API accepts them; raises ``ShopRefused``,
        ``ShopUnavailable`` or ``ShopAnswerUnreadable``, whose messages never hold the key."""
        ...

    def identity_on(self, marketplace: str, account: str) -> str | None:
        """The identity of shop ``account`` of ``marketplace`` when its connector says it
        without asking the marketplace (an instance given as data: the seam's
        ``InstanceIdentity``); None otherwise, or when the marketplace is not served now."""
        ...


OauthUnit = StoreUnit[OauthStore]


@dataclass(frozen=True)
class RedirectPorts:
    """One redirect marketplace's Vault secrets and token endpoint."""

    accounts: AccountVault
    code_exchange: CodeExchange


@dataclass(frozen=True)
class OauthPorts:
    """Everything a use case touches; made once per process (``bootstrap.py``)."""

    connections: OauthStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[OauthUnit]]
    vault: CredentialsVault
    shops: ShopCredentialsVerifier
    clock: Callable[[], datetime]  # timezone-aware: when credentials were created
    settings: OauthSettings
    flows: Mapping[str, RedirectPorts]  # each redirect marketplace's own

    def accounts(self, marketplace: str) -> AccountVault:
        """Where Vault keeps the marketplace's app credentials and refresh tokens."""
        return self.flows[marketplace].accounts

    def exchange(self, marketplace: str) -> CodeExchange:
        """The marketplace's token endpoint."""
        return self.flows[marketplace].code_exchange
