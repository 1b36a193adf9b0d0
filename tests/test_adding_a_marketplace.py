"""docs/ARCHITECTURE.md, "Adding a marketplace", held: an entry point of group
``keybuzz.connectors`` is what the registry serves (the same objects at each reading, in a
stable order, two connectors of one value refused; read again at run time:
``test_marketplaces_at_run_time.py``), every ``connectors/<name>/`` folder declares its own and
is installed; and a connector of no package (``ThrowawayConnector`` with a credential check
of its own), registered before the services start, with its own credential form, check and
settings, is served by every marketplace-aware endpoint with no other edit."""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, cast

import httpx
import hvac
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.testing import (
    Infra,
    MailServer,
    RunningService,
    ThrowawayApiSettings,
    ThrowawayConnector,
    ThrowawayShopApiSettings,
    find_event,
)
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.ports import OrdersPorts
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.kit import OrderIdPattern
from keybuzz_shared.connectors.kit.declaration import ShopConnector
from keybuzz_shared.connectors.registry import ConnectorConflict, registered
from keybuzz_shared.connectors.seam import (
    Connector,
    CredentialCheck,
    CredentialsRefused,
    OrderSummary,
    ShopApi,
    ShopApiSettings,
    shop_api_of,
)
from keybuzz_shared.file_links import FileLinks
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js import JetStreamContext

StartService = Callable[..., Awaitable[RunningService]]
ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
SECRET = "the-right-secret"
SELLER = "424242"
ORDER_IDS = OrderIdPattern("T[0-9]{6}", "a throwaway one (T and six digits)")


class _SecretCheck:
    """The throwaway marketplace's credential check: its one right secret, no API to ask;
    it keeps the settings each check was given."""

    def __init__(self) -> None:
        self.given: list[ShopApiSettings] = []

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        self.given.append(settings)
        if credentials["client_secret"] != SECRET:
            raise CredentialsRefused("the secret is not the shop's")
        return f"throwaway:{credentials['seller_id']}"


class NewMarketplace(ThrowawayConnector):
    settings_type = ThrowawayApiSettings

    def __init__(self) -> None:
        self.credential_check: CredentialCheck | None = _SecretCheck()


class _NoOrders:
    """A shop's session of the throwaway marketplace: it has no orders."""

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return []


class _SessionsKept:
    """The throwaway marketplace's shop API: it keeps the settings each session was made on."""

    def __init__(self) -> None:
        self.given: list[ShopApiSettings] = []

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> _NoOrders:
        self.given.append(settings)
        return _NoOrders()


class ShopMarketplace(NewMarketplace):
    """The throwaway marketplace with shops polled over an API of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = _SessionsKept()
        self.shop_api = cast(ShopApi, self.sessions)


@pytest.fixture
def throwaway() -> Iterator[NewMarketplace]:
    with registered(NewMarketplace()) as connector:
        yield connector  # type: ignore[misc]


def headers(tenant: str) -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, "user-1", tenants=[tenant])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def call(service: RunningService, method: str, path: str, tenant: str, **kw: Any) -> Any:
    async with service.client() as http:
        return await http.request(method, path, headers=headers(tenant), **kw)


def vault_secret(stack: Infra, path: str) -> dict[str, Any] | None:
    client = hvac.Client(url=stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    try:
        answer = client.secrets.kv.v2.read_secret_version(
            path=path.removeprefix("secret/"), mount_point="secret", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(answer["data"]["data"])


async def operator_js(service: RunningService) -> JetStreamContext:
    return (await service.operator()).jetstream()  # type: ignore[no-any-return]


def steps() -> dict[int, str]:
    """ARCHITECTURE.md's "Adding a marketplace", by step number."""
    section = ARCHITECTURE.read_text().split("### Adding a marketplace", 1)[1].split("\n#", 1)[0]
    found = re.findall(r"^(\d+)\. (.+?)(?=^\d+\. |^\n)", section, re.MULTILINE | re.DOTALL)
    return {int(n): " ".join(text.split()) for n, text in found}


# --- the registry: entry points ------------------------------------------------------------


class OtherMarketplace(ThrowawayConnector):
    marketplace = "OTHER"


class AnotherMarketplace(ThrowawayConnector):
    marketplace = "ANOTHER"


def throwaway_connectors() -> tuple[Connector, ...]:
    return (ThrowawayConnector(),)


def two_connectors() -> tuple[Connector, ...]:
    return (OtherMarketplace(), AnotherMarketplace())


def throwaway_again() -> tuple[Connector, ...]:
    return (NewMarketplace(),)


THROWAWAY = ThrowawayConnector()


def entry_point(name: str, function: str) -> EntryPoint:
    """An entry point as a connector folder's ``pyproject.toml`` declares it, installed."""
    return EntryPoint(name=name, value=f"{__name__}:{function}", group=registry.GROUP)


def test_the_registry_serves_what_entry_points_return_in_a_stable_order() -> None:
    found = [entry_point("zz", "two_connectors"), entry_point("aa", "throwaway_connectors")]
    # Entry points by name, then each one's connectors in the order it returns them.
    for listed in (found, found[::-1]):
        loaded = registry.load(listed)
        assert list(loaded) == ["THROWAWAY", "OTHER", "ANOTHER"]
        assert type(loaded["OTHER"]) is OtherMarketplace


def test_an_entry_point_may_name_its_connector_itself() -> None:
    """A package of one connector names it (``keybuzz_connector_<name>.connector:CONNECTOR``):
    served like a function's, the same object at each reading, in the same order."""
    found = [entry_point("zz", "two_connectors"), entry_point("aa", "THROWAWAY")]
    loaded = registry.load(found)
    assert list(loaded) == ["THROWAWAY", "OTHER", "ANOTHER"] and loaded["THROWAWAY"] is THROWAWAY
    with registry.installed(entry_point("zz-one-connector", "THROWAWAY")):
        for _ in range(2):
            assert registry.connector_for("THROWAWAY") is THROWAWAY
            assert registry.marketplaces()[-1] == "THROWAWAY"
            registry.refresh()
    assert not registry.served("THROWAWAY")
    with pytest.raises(ConnectorConflict, match="'THROWAWAY'"):
        registry.load([*found, entry_point("first", "throwaway_connectors")])


def test_two_connectors_of_one_marketplace_are_refused_naming_both() -> None:
    found = [entry_point("first", "throwaway_connectors"), entry_point("second", "throwaway_again")]
    with pytest.raises(ConnectorConflict) as refused:
        registry.load(found)
    assert "'THROWAWAY'" in str(refused.value)
    assert "first" in str(refused.value) and "second" in str(refused.value)


def test_every_connector_folder_declares_its_entry_point_and_is_installed() -> None:
    installed = {p.name: p.value for p in entry_points(group=registry.GROUP)}
    folders = sorted(p for p in (ROOT / "connectors").iterdir() if (p / "pyproject.toml").exists())
    assert folders, "no connector folder"
    for folder in folders:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        package = f"keybuzz_connector_{folder.name}"
        assert project["name"] == f"keybuzz-connector-{folder.name}"
        assert "keybuzz-shared" in project["dependencies"]
        declared = project["entry-points"][registry.GROUP]
        # Its one connector itself, or a function returning several (a family's).
        named = {f"{package}.connector:CONNECTOR", f"{package}:connectors"}
        assert list(declared) == [folder.name] and declared[folder.name] in named, folder.name
        assert installed.get(folder.name) == declared[folder.name], f"{folder.name}: make install"
        assert (folder / "src" / package / "py.typed").exists(), folder.name
    # The registry serves the installed entry points' connectors, the same objects each time.
    assert registry.marketplaces() == tuple(registry.load(entry_points(group=registry.GROUP)))
    assert [registry.connector_for(m) for m in registry.marketplaces()] == registry.connectors()
    assert all(a is b for a, b in zip(registry.connectors(), registry.connectors(), strict=True))


def test_every_double_folder_declares_its_entry_point_and_is_installed() -> None:
    """A connector's double is its folder's ``double/``, a distribution of its own (the
    connector's, installed alone in production, brings none of it), found by the sandbox by
    its entry point: Amazon's as every other."""
    from keybuzz_sandbox.doubles import GROUP, doubles

    installed = {p.name: p.value for p in entry_points(group=GROUP)}
    folders = sorted(p.parent for p in ROOT.glob("connectors/*/double/pyproject.toml"))
    assert folders, "no double folder"
    for folder in folders:
        name, package = folder.parent.name, f"keybuzz_double_{folder.parent.name}"
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project["name"] == f"keybuzz-double-{name}"
        assert "keybuzz-sandbox" in project["dependencies"]
        assert project["entry-points"][GROUP] == {name: f"{package}:DOUBLE"}, name
        assert installed.get(name) == f"{package}:DOUBLE", f"{name}: make install"
        assert (folder / "src" / package / "__init__.py").exists(), name
        connector = tomllib.loads((folder.parent / "pyproject.toml").read_text())["project"]
        assert not any(d.startswith("keybuzz-sandbox") for d in connector["dependencies"]), name
    assert set(doubles()) == {f.parent.name for f in folders}


# Where a double's module may be named: its own folder; the sandbox finds doubles by entry
# point, the services ask the registry. Benchmarks of one marketplace read its double.
OUTSIDE_THE_FOLDERS = ("shared", "services", "devstack", "sandbox", "tests")
DOUBLE_MODULE = re.compile(r"keybuzz_double_[a-z]")


def test_no_double_module_is_named_outside_its_connector_folder() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for area in OUTSIDE_THE_FOLDERS
        for path in sorted((ROOT / area).rglob("*"))
        if path.suffix in (".py", ".toml", ".md") and ".egg-info" not in str(path)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if DOUBLE_MODULE.search(line)
    ]
    assert found == []


def test_a_shop_api_connector_with_no_driver_is_held_to_the_conformance_suite() -> None:
    """Its double's drivers are how the suite drives it; a connector of the kit's one type
    (the kit's ``ShopConnector``) is listed like any other, and ``driver_of`` fails it."""
    from keybuzz_connector_backmarket.connector import CONNECTOR

    from tests.conformance.harness import driver_of, shop_api_connectors

    kit_made = ShopConnector(
        marketplace="THROWAWAY_SHOP",
        display_name="Throwaway shop",
        secret="throwaway_shop_api",
        credential_fields=CONNECTOR.credential_fields,
        limits=CONNECTOR.limits,
        settings_type=ThrowawayApiSettings,
        shop_api=shop_api_of(CONNECTOR),
        credential_check=_SecretCheck(),
        order_ids=ORDER_IDS,
    )
    with registered(kit_made):
        listed = [c.marketplace for c in shop_api_connectors()]
        assert "THROWAWAY_SHOP" in listed and "BACKMARKET" in listed
        with pytest.raises(pytest.fail.Exception, match="no driver"):
            driver_of(kit_made)
    assert "THROWAWAY_SHOP" not in [c.marketplace for c in shop_api_connectors()]


def test_the_list_is_short_and_names_its_test() -> None:
    listed = steps()
    assert sorted(listed) == list(range(1, len(listed) + 1)) and len(listed) <= 8, listed
    assert "settings_type" in listed[1], listed[1]
    assert "tests/test_adding_a_marketplace.py" in ARCHITECTURE.read_text()


# --- oauth ---------------------------------------------------------------------------------


async def test_oauth_lists_it_and_serves_its_connection_routes(
    throwaway: NewMarketplace, start_service: StartService
) -> None:
    oauth = await start_service(OAUTH)
    tenant, base = new_tenant(), "/api/v1/marketplaces/throwaway"
    catalogue = (await call(oauth, "GET", "/api/v1/marketplaces", tenant)).json()
    [entry] = [m for m in catalogue["marketplaces"] if m["marketplace"] == "throwaway"]
    assert [f["name"] for f in entry["fields"]] == ["sellerId", "clientSecret"]

    status = await call(oauth, "GET", f"{base}/status", tenant)
    assert status.status_code == 200, status.text
    assert (status.json()["status"], status.json()["marketplaceType"]) == (
        "NOT_CONNECTED",
        "THROWAWAY",
    )
    gone = await call(oauth, "DELETE", f"{base}/connection", tenant)
    assert gone.status_code == 404 and "Throwaway Market" in gone.json()["message"]
    # Its form is its own: its field's rule refuses, never Fnac's.
    refused = await call(
        oauth, "POST", f"{base}/connection", tenant, json={"sellerId": "x", "clientSecret": "s"}
    )
    assert refused.status_code == 400 and refused.json()["message"].startswith("sellerId: ")


async def test_oauth_connects_it_through_its_form_and_disconnects_it(
    throwaway: NewMarketplace, start_service: StartService, stack: Infra
) -> None:
    oauth = await start_service(OAUTH)
    tenant, base = new_tenant(), "/api/v1/marketplaces/throwaway"
    wrong = {"sellerId": SELLER, "clientSecret": "not-it"}
    assert (await call(oauth, "POST", f"{base}/connection", tenant, json=wrong)).status_code == 422
    typed = {"sellerId": SELLER, "clientSecret": SECRET}
    connected = await call(oauth, "POST", f"{base}/connection", tenant, json=typed)
    assert connected.status_code == 200, connected.text
    assert (connected.json()["status"], connected.json()["shopId"]) == ("CONNECTED", SELLER)
    path = throwaway.credentials_path(tenant)
    stored = vault_secret(stack, path) or {}
    assert (stored.get("seller_id"), stored.get("client_secret")) == (SELLER, SECRET)
    event = await find_event(await operator_js(oauth), "connection.connected", tenant)
    assert (event["marketplace"], event["sellerId"]) == ("THROWAWAY", SELLER)
    status = (await call(oauth, "GET", f"{base}/status", tenant)).json()
    assert (status["status"], status["credentialsVerified"]) == ("CONNECTED", True)
    ended = await call(oauth, "DELETE", f"{base}/connection", tenant)
    assert ended.json()["status"] == "DISCONNECTED" and vault_secret(stack, path) is None
    event = await find_event(await operator_js(oauth), "connection.disconnected", tenant)
    assert event["marketplace"] == "THROWAWAY"


# --- poller and orders: their marketplace filters and settings -----------------------------


async def test_the_poller_takes_it_as_a_marketplace_and_refuses_an_unknown_one(
    throwaway: NewMarketplace, start_service: StartService, dovecot: MailServer
) -> None:
    poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings)
    tenant = new_tenant()
    window = {"marketplace": "THROWAWAY", "hours": 36}
    saved = await call(poller, "PUT", "/api/v1/poller/response-deadlines", tenant, json=window)
    assert saved.status_code == 200, saved.text
    assert window in saved.json()["windows"]
    alerts = {"leadMinutes": 90}
    lead = await call(poller, "PUT", "/api/v1/poller/response-alerts", tenant, json=alerts)
    assert lead.status_code == 200, lead.text
    report = await call(
        poller, "GET", "/api/v1/response-times", tenant, params={"marketplace": "THROWAWAY"}
    )
    assert report.status_code == 200 and report.json()["received"] == 0, report.text

    tickets = await call(
        poller, "GET", "/api/v1/tickets", tenant, params={"marketplace": "THROWAWAY"}
    )
    assert tickets.status_code == 200 and tickets.json()["items"] == [], tickets.text
    unknown = await call(
        poller, "GET", "/api/v1/tickets", tenant, params={"marketplace": "NOT_SERVED"}
    )
    assert unknown.status_code == 400, unknown.text
    assert "THROWAWAY" in unknown.json()["message"] and "AMAZON" in unknown.json()["message"]


async def test_orders_filter_by_it_and_refuse_an_unknown_one(
    throwaway: NewMarketplace, start_service: StartService
) -> None:
    orders = await start_service(ORDERS)
    tenant = new_tenant()
    listed = await call(
        orders, "GET", "/api/v1/orders", tenant, params={"marketplace": "THROWAWAY"}
    )
    assert listed.status_code == 200 and listed.json()["orders"] == [], listed.text
    one = await call(
        orders,
        "GET",
        "/api/v1/orders/123-4567890-1234567",
        tenant,
        params={"marketplace": "THROWAWAY"},
    )
    assert one.status_code == 404, one.text  # looked for there, not refused
    for path in ("/api/v1/orders", "/api/v1/orders/123-4567890-1234567"):
        unknown = await call(orders, "GET", path, tenant, params={"marketplace": "NOT_SERVED"})
        assert unknown.status_code == 400, unknown.text
        assert "THROWAWAY" in unknown.json()["message"], unknown.text


# --- its settings, its own: what its session and check are given ----------------------------


async def test_its_session_and_check_are_given_its_own_settings_view_whole(
    start_service: StartService, dovecot: MailServer
) -> None:
    """oauth's check, the poller's session and orders' session of a shop are each given the
    view its connector's settings made (a subclass with a field of its own, read from its
    variable), not one address taken out of it."""
    env = {"THROWAWAY_REGION": "south", "THROWAWAY_API_URL": "http://127.0.0.1:9/elsewhere/"}
    made = ThrowawayApiSettings(
        throwaway_region="south", throwaway_api_url=env["THROWAWAY_API_URL"]
    ).shop_api("THROWAWAY")
    assert isinstance(made, ThrowawayShopApiSettings) and made.region == "south"
    with registered(ShopMarketplace()) as registered_connector:
        connector = cast(ShopMarketplace, registered_connector)
        check = cast(_SecretCheck, connector.credential_check)
        tenant = new_tenant()
        oauth = await start_service(OAUTH, **env)
        typed = {"sellerId": SELLER, "clientSecret": SECRET}
        connected = await call(
            oauth, "POST", "/api/v1/marketplaces/throwaway/connection", tenant, json=typed
        )
        assert connected.status_code == 200, connected.text
        poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings, **env)
        await poller.runtime.component(ApiMessageSource).open(Shop(tenant, "THROWAWAY"))
        orders = await start_service(ORDERS, **env)
        source = orders.runtime.component(OrdersPorts).sources["THROWAWAY"]
        assert (await source.orders_by_ids(tenant, ["1"])).orders == []
    assert check.given == [made] and connector.sessions.given == [made, made]
    assert all(type(s) is ThrowawayShopApiSettings for s in check.given + connector.sessions.given)
