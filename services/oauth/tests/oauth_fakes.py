"""In-memory fakes of oauth's ports (``keybuzz_oauth.ports``), for the unit tier.
``test_oauth_store_contract.py`` runs the same scenarios on these and on the real adapters
(PostgreSQL, OpenBao), so a fake that drifts from ``store.py`` or Vault fails there."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from keybuzz_connector_amazon import (
    AppCredentials,
    AppCredentialsMissing,
    CredentialsMissing,
    InvalidGrant,
    LwaError,
    LwaUnavailable,
    TenantCredentials,
    TokenGrant,
)
from keybuzz_connector_amazon.credentials import APP as AMAZON_APP
from keybuzz_connector_amazon.credentials import tenant_credentials_path
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_oauth.connections import (
    REDIRECT_MARKETPLACES,
    Connected,
    Connection,
    ShopConnected,
    ShopCredentials,
    ShopIdCollision,
    Status,
    StoredShop,
)
from keybuzz_oauth.ports import (
    OauthPorts,
    RedirectPorts,
    ShopAnswerUnreadable,
    ShopRefused,
    ShopTaken,
    ShopUnavailable,
)
from keybuzz_oauth.settings import OauthSettings
from keybuzz_oauth.states import ConsumedState, NewStateRow
from keybuzz_shared.vault import VaultUnavailable

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
APP = AppCredentials(
    client_id="amzn1.application-oa2-client.fake",
    client_secret="fake-secret",
    application_id="amzn1.sp.solution.fake",
    redirect_uri="https://oauth.keybuzz.test/api/v1/marketplaces/amazon/oauth/callback",
    region="eu",
)


class FakeClock:
    """The time of the test, moved by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def __deepcopy__(self, memo: dict[int, Any]) -> FakeClock:
        return self  # one time for all: a store rolled back keeps the test's clock


@dataclass
class _State:
    row: NewStateRow
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class _Row:
    id: str
    tenant_id: str
    status: Status
    marketplace: str = AMAZON
    seller_id: str | None = None
    marketplace_ids: list[str] = field(default_factory=list)
    region: str | None = None
    vault_path: str | None = None
    connected_by: str | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    last_error: str | None = None
    identity: str | None = None  # the account's, for shops
    ended_as_duplicate: bool = False

    def connection(self) -> Connection:
        return Connection(
            id=self.id,
            tenant_id=self.tenant_id,
            marketplace_type=self.marketplace,
            status=self.status,
            seller_id=self.seller_id,
            marketplace_ids=list(self.marketplace_ids),
            region=self.region,
            vault_path=self.vault_path,
            connected_at=self.connected_at,
            last_error=self.last_error,
        )


_LINKED = (Status.CONNECTED, Status.REAUTH_REQUIRED)


def _named(marketplace: str) -> str:
    """Amazon's locks keep their short names in the tests' expectations."""
    return "" if marketplace == AMAZON else f"{marketplace}:"


class InMemoryOauthStore:
    """``ports.OauthStore`` in dicts, with the rules of store.py's SQL; ``clock`` is its now()."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.states: dict[str, _State] = {}
        # Per marketplace, per tenant; ``rows`` are Amazon's.
        self.connections: dict[str, dict[str, _Row]] = {AMAZON: {}}
        self.rows = self.connections[AMAZON]
        self.locks: list[str] = []  # what was locked, in order (a lock is taken at once)
        self.collisions: dict[str, tuple[StoredShop, str, str, datetime]] = {}

    def rows_of(self, marketplace: str) -> dict[str, _Row]:
        return self.connections.setdefault(marketplace, {})

    # --- states

    async def insert_state(self, state: NewStateRow, ttl: float) -> datetime:
        expires_at = self.clock() + timedelta(seconds=ttl)
        self.states[state.digest] = _State(state, expires_at)
        return expires_at

    async def purge_old_states(self) -> None:
        horizon = self.clock() - timedelta(days=1)
        self.states = {d: s for d, s in self.states.items() if s.expires_at >= horizon}

    async def consume_state(self, digest: str) -> ConsumedState | None:
        state = self.states.get(digest)
        if state is None or not self._live(state):
            return None
        state.used_at = self.clock()
        row = state.row
        return ConsumedState(
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            marketplace_type=row.marketplace_type,
            marketplace_code=row.marketplace_code,
            redirect_uri=row.redirect_uri,
            browser_hash=row.browser_hash,
            takeover=row.takeover,
        )

    async def state_usage(self, digest: str) -> tuple[bool, datetime | None]:
        state = self.states.get(digest)
        return (state is not None, state.used_at if state else None)

    async def has_live_state(self, tenant_id: str, marketplace: str) -> bool:
        return any(
            s.row.tenant_id == tenant_id and s.row.marketplace_type == marketplace and self._live(s)
            for s in self.states.values()
        )

    def _live(self, state: _State) -> bool:
        return state.used_at is None and state.expires_at > self.clock()

    # --- serialisation

    async def lock_seller(self, seller_id: str, marketplace: str) -> None:
        self.locks.append(f"seller:{_named(marketplace)}{seller_id}")

    async def lock_account(self, identity: str) -> None:
        self.locks.append(f"account:{identity}")

    async def lock_tenants(self, tenant_ids: Sequence[str], marketplace: str) -> None:
        self.locks.extend(f"tenant:{_named(marketplace)}{t}" for t in sorted(set(tenant_ids)))

    # --- connections

    async def tenants_holding_seller(
        self, seller_id: str, except_tenant: str, marketplace: str
    ) -> list[str]:
        return sorted(
            r.tenant_id
            for r in self.rows_of(marketplace).values()
            if r.seller_id == seller_id and r.tenant_id != except_tenant and r.status in _LINKED
        )

    async def account_holders(self, identity: str) -> list[tuple[str, str]]:
        return sorted(
            (r.tenant_id, r.marketplace)
            for rows in self.connections.values()
            for r in rows.values()
            if r.identity == identity and r.status in _LINKED
        )

    async def get_connection(self, tenant_id: str, marketplace: str) -> Connection | None:
        row = self.rows_of(marketplace).get(tenant_id)
        return row.connection() if row else None

    async def mark_pending(self, tenant_id: str, marketplace: str) -> None:
        rows = self.rows_of(marketplace)
        row = rows.get(tenant_id)
        if row is None:
            rows[tenant_id] = _Row(str(uuid.uuid4()), tenant_id, Status.PENDING, marketplace)
        elif row.status is not Status.CONNECTED:
            row.status = Status.PENDING

    async def record_failure(self, tenant_id: str, error: str, marketplace: str) -> None:
        if row := self.rows_of(marketplace).get(tenant_id):
            row.last_error = error
            if row.status is Status.PENDING:
                row.status = Status.ERROR

    async def upsert_connected(self, connected: Connected) -> Connection:
        row = self.rows_of(connected.marketplace).setdefault(
            connected.tenant_id,
            _Row(str(uuid.uuid4()), connected.tenant_id, Status.CONNECTED, connected.marketplace),
        )
        same = (
            row.status in _LINKED
            and row.seller_id == connected.seller_id
            and row.region == connected.region
        )
        wanted = [connected.marketplace_id]
        row.marketplace_ids = sorted({*row.marketplace_ids, *wanted}) if same else wanted
        row.status = Status.CONNECTED
        row.seller_id, row.region = connected.seller_id, connected.region
        row.vault_path, row.connected_by = connected.vault_path, connected.user_id
        row.connected_at, row.disconnected_at, row.last_error = self.clock(), None, None
        return row.connection()

    async def upsert_shop_connected(self, connected: ShopConnected) -> Connection:
        rows = self.rows_of(connected.marketplace)
        holders = await self.account_holders(connected.identity)
        if any(
            held != (connected.tenant_id, connected.marketplace) for held in holders
        ):  # the unique index of migration 004
            raise ShopTaken(f"{connected.marketplace} shop {connected.shop_id}")
        row = rows.setdefault(
            connected.tenant_id,
            _Row(str(uuid.uuid4()), connected.tenant_id, Status.CONNECTED, connected.marketplace),
        )
        row.status, row.seller_id, row.marketplace_ids, row.region = (
            Status.CONNECTED,
            connected.shop_id,
            [],
            None,
        )
        row.vault_path, row.connected_by = connected.vault_path, connected.user_id
        row.connected_at, row.disconnected_at, row.last_error = self.clock(), None, None
        row.identity, row.ended_as_duplicate = connected.identity, False
        return row.connection()

    async def mark_disconnected(self, tenant_id: str, marketplace: str) -> Connection | None:
        row = self.rows_of(marketplace).get(tenant_id)
        if row is None or row.status is Status.DISCONNECTED:
            return None
        row.status, row.vault_path, row.last_error = Status.DISCONNECTED, None, None
        row.disconnected_at = self.clock()
        return row.connection()

    async def ended_as_duplicates(self) -> list[Connection]:
        return sorted(
            (
                r.connection()
                for rows in self.connections.values()
                for r in rows.values()
                if r.ended_as_duplicate
            ),
            key=lambda c: c.id,
        )

    async def finish_duplicate(self, tenant_id: str, marketplace: str) -> Connection | None:
        row = self.rows_of(marketplace).get(tenant_id)
        if row is None or not row.ended_as_duplicate:
            return None
        row.ended_as_duplicate, row.vault_path = False, None
        return row.connection()

    # --- shop ids in their canonical form

    def _all_rows(self) -> list[_Row]:
        return [r for rows in self.connections.values() for r in rows.values()]

    async def live_shops(self, marketplaces: Sequence[str]) -> list[StoredShop]:
        return [
            StoredShop(r.id, r.tenant_id, r.marketplace, r.seller_id, r.identity)
            for r in self._all_rows()
            if r.marketplace in marketplaces and r.status in _LINKED and r.seller_id is not None
        ]

    async def holder_of(
        self, shop: StoredShop, seller_id: str, identity: str | None
    ) -> tuple[str, str, str] | None:
        for r in self._all_rows():
            if r.id == shop.connection_id or r.status not in _LINKED:
                continue
            if r.identity == identity or (r.marketplace, r.seller_id) == (
                shop.marketplace,
                seller_id,
            ):
                return (r.id, r.tenant_id, r.marketplace)
        return None

    async def rewrite_shop_id(self, shop: StoredShop, seller_id: str, identity: str | None) -> bool:
        row = self.rows_of(shop.marketplace).get(shop.tenant_id)
        if row is None or row.status not in _LINKED or row.seller_id != shop.seller_id:
            return False
        row.seller_id, row.identity = seller_id, identity
        return True

    async def record_collision(self, shop: StoredShop, canonical_id: str, held_by: str) -> None:
        self.collisions[shop.connection_id] = (shop, canonical_id, held_by, self.clock())

    async def shop_id_collisions(self) -> list[ShopIdCollision]:
        rows = {r.id: r for r in self._all_rows()}
        return [
            ShopIdCollision(
                connection_id=shop.connection_id,
                tenant_id=shop.tenant_id,
                marketplace=shop.marketplace,
                shop_id=shop.seller_id,
                canonical_shop_id=canonical,
                held_by=held_by,
                held_by_tenant_id=rows[held_by].tenant_id,
                held_by_marketplace=rows[held_by].marketplace,
                found_at=found_at,
            )
            for shop, canonical, held_by, found_at in self.collisions.values()
            if rows[shop.connection_id].status in _LINKED
            and rows[shop.connection_id].seller_id == shop.seller_id
            and rows[held_by].status in _LINKED
        ]

    async def mark_reauth_required(
        self,
        tenant_id: str,
        seller_id: str | None,
        reason: str,
        seen_at: datetime,
        marketplace: str,
    ) -> bool:
        row = self.rows_of(marketplace).get(tenant_id)
        if (
            row is None
            or row.status is not Status.CONNECTED
            or (seller_id is not None and row.seller_id != seller_id)
            or row.connected_at is None
            or row.connected_at > seen_at
        ):
            return False
        row.status, row.last_error = Status.REAUTH_REQUIRED, reason
        return True


class InMemoryCredentialsVault:
    """``ports.CredentialsVault`` and a flow's ``AccountVault``: the shops' keys, the app's
    and the tenants' secrets, and a switch per operation to make Vault fail it
    (``failing``: "app", "store", "check", "delete"; the shops' operations fail with their
    Amazon counterparts)."""

    def __init__(self, app: AppCredentials | None = APP, app_source: str = "default") -> None:
        self.app = app
        self.app_source = app_source
        self.tenants: dict[str, TenantCredentials] = {}
        self.shops: dict[tuple[str, str], ShopCredentials] = {}  # (tenant, marketplace)
        self.failing: set[str] = set()

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.failing:
            raise VaultUnavailable(f"Vault is sealed ({operation})")

    async def app_credentials(self) -> AppCredentials:
        self._maybe_fail("app")
        if self.app is None:
            raise AppCredentialsMissing(AMAZON_APP.path(self.app_source), self.app_source)
        return self.app

    async def store(self, credentials: TenantCredentials) -> str:
        self._maybe_fail("store")
        self.tenants[credentials.tenant_id] = credentials
        return tenant_credentials_path(credentials.tenant_id)

    async def check(self, tenant_id: str) -> TenantCredentials:
        self._maybe_fail("check")
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise CredentialsMissing(tenant_id, tenant_credentials_path(tenant_id)) from None

    async def delete(self, tenant_id: str) -> None:
        self._maybe_fail("delete")
        self.tenants.pop(tenant_id, None)

    async def store_shop(self, credentials: ShopCredentials) -> None:
        self._maybe_fail("store")
        self.shops[(credentials.tenant_id, credentials.marketplace)] = credentials

    async def read_shop(self, tenant_id: str, marketplace: str) -> ShopCredentials | None:
        self._maybe_fail("check")
        return self.shops.get((tenant_id, marketplace))

    async def delete_shop(self, tenant_id: str, marketplace: str) -> None:
        self._maybe_fail("delete")
        self.shops.pop((tenant_id, marketplace), None)


class FakeLwa:
    """``ports.CodeExchange`` (the seam's): each code issued is good once, for one refresh
    token; it raises LWA's errors, which are the seam's."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.exchanged: list[str] = []  # every code sent, in order
        self.down = False
        self.refusal: str | None = None  # an LWA error code other than invalid_grant

    def issue(self, code: str) -> str:
        self.codes[code] = f"Atzr|refresh-{code}"
        return code

    async def exchange_code(self, app: AppCredentials, code: str, redirect_uri: str) -> TokenGrant:
        self.exchanged.append(code)
        if self.down:
            raise LwaUnavailable("LWA did not answer (503)")
        if self.refusal:
            raise LwaError(self.refusal, "refused", 400)
        refresh_token = self.codes.pop(code, None)
        if refresh_token is None:
            raise InvalidGrant("invalid_grant", "the authorization code is invalid", 400)
        return TokenGrant(access_token="Atza|access", expires_in=3600, refresh_token=refresh_token)

    async def aclose(self) -> None:
        pass


class FakeShops:
    """``ports.ShopCredentialsVerifier``: the shops the marketplace knows, and its moods
    (``down``: unreachable, with ``retry_after``; ``unreadable``: answers garbage)."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, str], str] = {}  # (partner_id, shop_id) -> key
        self.checked: list[str] = []  # the shop ids asked about, in order
        self.down = False
        self.retry_after: float | None = None
        self.unreadable = False

    def open_shop(self, partner_id: str, shop_id: str, key: str) -> None:
        self.known[(partner_id.upper(), shop_id.upper())] = key  # ids: any case

    async def verify(self, credentials: ShopCredentials) -> str:
        self.checked.append(credentials.shop_id)
        if self.down:
            raise ShopUnavailable("the marketplace did not answer (503)", self.retry_after)
        if self.unreadable:
            raise ShopAnswerUnreadable("the answer is not XML")
        typed = credentials.fields
        ids = (typed["partner_id"].upper(), typed["shop_id"].upper())
        if self.known.get(ids) != typed["key"]:
            raise ShopRefused("authentication refused")
        return f"memory-api:{credentials.shop_id.upper()}"  # one API for every marketplace

    def identity_on(self, marketplace: str, account: str) -> str | None:
        return None  # the identity is the marketplace's answer


@dataclass
class FakeOauth:
    """The ports wired to fakes, with the fakes at hand for the test's assertions."""

    store: InMemoryOauthStore
    units: InMemoryUnitOfWork[InMemoryOauthStore]
    vault: InMemoryCredentialsVault
    lwa: FakeLwa
    shops: FakeShops
    clock: FakeClock
    ports: OauthPorts


def _with(settings: OauthSettings, values: dict[str, Any]) -> OauthSettings:
    """``settings`` with ``values``, each set where it is: oauth's own or a connector's."""

    def mine(fields: tuple[str, ...]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k in fields}

    parts = tuple(msgspec.structs.replace(p, **mine(p.__struct_fields__)) for p in settings.parts)
    own = mine(settings.__struct_fields__)
    return msgspec.structs.replace(settings, **own, parts=parts)


def fake_oauth(**settings: Any) -> FakeOauth:
    clock = FakeClock()
    store = InMemoryOauthStore(clock)
    units = InMemoryUnitOfWork(store)
    vault, lwa, shops = InMemoryCredentialsVault(), FakeLwa(), FakeShops()
    ports = OauthPorts(
        connections=store,
        unit_of_work=units,
        vault=vault,
        shops=shops,
        clock=clock,
        settings=_with(OauthSettings(), settings),
        # One fake Vault and token endpoint for every redirect flow.
        flows={m: RedirectPorts(vault, lwa) for m in REDIRECT_MARKETPLACES},
    )
    return FakeOauth(store, units, vault, lwa, shops, clock, ports)


def ShopKey(partner_id: str, shop_id: str, key: str) -> dict[str, str]:  # noqa: N802
    """A Fnac or Darty shop's connection body, as the seller types it (JSON names)."""
    return {"partnerId": partner_id, "shopId": shop_id, "key": key}


def fnac_shop(
    tenant_id: str,
    marketplace: str,
    partner_id: str,
    shop_id: str,
    key: str,
    created_at: str = "",
) -> ShopCredentials:
    """A Fnac or Darty shop's stored credentials (its connector's field names)."""
    fields = {"partner_id": partner_id, "shop_id": shop_id, "key": key}
    return ShopCredentials(tenant_id, marketplace, fields, created_at)
