"""Nothing on NATS is anonymous, and each user may do only its own part.

Seen before: any client could publish ``tenant.synced`` naming tenant B with tenant A's
inbound address (the poller moved A's mail to B), forge ``tenant.archived``, call any
service's ``redrive``, read statuses and purge ``DEADLETTER``. The test servers run with
the users of ``keybuzz_shared.nats_access`` (as the dev stack does), and every service
in the suite connects as its own user, so the whole suite exercises the permissions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import nats
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.testing import consumer_drained, eventually
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_shared.events import (
    TenantCreated,
    TenantSynced,
    TenantUpdated,
    encode_event,
    event_headers,
)
from keybuzz_shared.messaging import publish_event
from keybuzz_shared.nats_access import (
    DURABLES,
    OPERATOR,
    PRODUCT_APP,
    permissions,
)
from keybuzz_shared.nats_connection import inbox_prefix
from keybuzz_shared.settings import CommonSettings, SettingsError, load_settings
from keybuzz_shared.streams import STREAMS, StreamSealed, ensure_streams, problem
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from nats.aio.client import Client
from nats.errors import NoServersError

STRONG = "s" * 40


class Violations:
    """A user's connection and the permission errors the server sent it."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, error: Exception) -> None:
        self.errors.append(str(error).lower())

    def denied(self, what: str) -> bool:
        return any("permissions violation" in e and what.lower() in e for e in self.errors)


async def connect_as(url: str, user: str, users: dict[str, str]) -> tuple[Client, Violations]:
    seen = Violations()
    nc = await nats.connect(
        infra.without_credentials(url),
        user=user,
        password=users[user],
        inbox_prefix=inbox_prefix(user),
        error_cb=seen.record,
        max_reconnect_attempts=0,
    )
    return nc, seen


@pytest.fixture
async def operator(stack) -> AsyncIterator[Client]:
    nc = await nats.connect(stack.nats_url)
    await ensure_streams(nc.jetstream())  # as every service does at start-up
    yield nc
    await nc.close()


async def _last_subjects(operator: Client, stream: str, count: int = 20) -> list[str]:
    js = operator.jetstream()
    info = await js.stream_info(stream)
    subjects = []
    for seq in range(
        max(info.state.first_seq, info.state.last_seq - count + 1), info.state.last_seq + 1
    ):
        try:
            subjects.append((await js.get_msg(stream, seq)).subject)
        except Exception:
            continue
    return subjects


async def test_an_anonymous_client_is_refused(stack) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            infra.without_credentials(stack.nats_url),
            max_reconnect_attempts=0,
            allow_reconnect=False,
            connect_timeout=2,
        )


async def test_a_wrong_password_is_refused(stack, nats_users) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            infra.with_credentials(infra.without_credentials(stack.nats_url), "poller", "wrong"),
            max_reconnect_attempts=0,
            allow_reconnect=False,
            connect_timeout=2,
        )


async def test_a_service_cannot_forge_what_another_service_says(stack, nats_users, operator):
    """orders may not say tenant.synced (tenant-sync's) nor tenant.created (the product's)."""
    nc, seen = await connect_as(stack.nats_url, "orders", nats_users)
    try:
        forged = TenantSynced(tenant_id="victim-b", name="B", plan="pro", status="active")
        await nc.publish(forged.type, encode_event(forged), headers=event_headers(forged))
        await nc.publish("tenant.created", b"{}")
        await nc.flush()
        # The server reports each violation on its own, as it comes to it: both are waited for.
        await eventually(lambda: _async(seen.denied('publish to "tenant.synced"')))
        await eventually(lambda: _async(seen.denied('publish to "tenant.created"')))
    finally:
        await nc.close()
    recent = [s for s in await _last_subjects(operator, "TENANTS")]
    stored = [
        msgspec.json.decode((await operator.jetstream().get_msg("TENANTS", seq)).data)
        for seq in await _sequences(operator, "TENANTS")
    ]
    assert not any(body.get("tenantId") == "victim-b" for body in stored), recent


async def test_the_product_app_may_announce_tenants_and_nothing_else(stack, nats_users, operator):
    nc, seen = await connect_as(stack.nats_url, PRODUCT_APP, nats_users)
    try:
        created = TenantCreated(tenant_id="product-app-ok", name="OK", plan="pro", status="active")
        ack = await nc.jetstream().publish(
            created.type, encode_event(created), headers=event_headers(created)
        )
        assert ack.stream == "TENANTS"
        forged = TenantSynced(tenant_id="product-app-forged", name="F", plan="pro", status="active")
        await nc.publish(forged.type, encode_event(forged))
        await nc.publish("connection.connected", b"{}")
        await nc.flush()
        await eventually(lambda: _async(seen.denied('publish to "connection.connected"')))
        assert seen.denied('publish to "tenant.synced"')
    finally:
        await nc.close()


async def test_a_service_cannot_drive_another_or_purge_dead_letters(stack, nats_users):
    nc, seen = await connect_as(stack.nats_url, "orders", nats_users)
    try:
        await nc.publish("keybuzz.tenant-sync.redrive", b"{}")
        await nc.publish("$JS.API.STREAM.PURGE.DEADLETTER", b"")
        await nc.publish("$JS.API.STREAM.DELETE.TENANTS", b"")
        await nc.subscribe("_INBOX.>")  # nobody else's replies
        await nc.subscribe(f"{inbox_prefix(OPERATOR)}.>")
        await nc.flush()
        await eventually(lambda: _async(len(seen.errors) >= 5))
        assert seen.denied('publish to "keybuzz.tenant-sync.redrive"')
        assert seen.denied('publish to "$js.api.stream.purge.deadletter"')
        assert seen.denied('publish to "$js.api.stream.delete.tenants"')
        assert seen.denied('subscription to "_inbox.>"')
        assert seen.denied(f'subscription to "{inbox_prefix(OPERATOR).lower()}.>"')
    finally:
        await nc.close()


async def test_the_operator_drives_a_service_that_runs_as_its_own_user(
    start_service, stack, operator
):
    service = await start_service(TENANT_SYNC)
    assert service.runtime.settings.nats_user == "tenant-sync"  # not the operator's URL
    reply = await operator.request("keybuzz.tenant-sync.redrive", b"{}", timeout=10)
    assert msgspec.json.decode(reply.data)["redriven"] == 0


def test_permissions_follow_the_contracts() -> None:
    tenant_sync, poller = permissions("tenant-sync"), permissions("poller")
    assert "tenant.synced" in tenant_sync.publish
    assert "tenant.synced" not in permissions("orders").publish
    assert "tenant.synced" not in permissions(PRODUCT_APP).publish
    # its own consumers only, by name; never a stream change
    assert "$JS.API.CONSUMER.MSG.NEXT.TENANTS.poller-inbound-addresses" in poller.publish
    assert not any("TENANTS.tenant-sync-" in s for s in poller.publish)
    assert not any(s.startswith("$JS.API.STREAM.UPDATE") for s in poller.publish)
    assert "tenant.archived" not in poller.publish  # it consumes it, never says it


def _subscribed_durables(definition) -> dict[str, tuple[str, ...]]:
    """What a service's consumers are: its app is assembled (not started) and asked,
    with every optional part on (orders' ORDER_CHANGE subscribers need a queue)."""
    from keybuzz_shared.service import create_app

    queue = {
        "SQS_QUEUE_URL": "http://127.0.0.1:9/000000000000/orders",
        "SQS_DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/000000000000/orders-dlq",
    }
    environ = queue if definition.name == "orders" else {}
    app = create_app(definition, load_settings(definition.settings_type, environ))
    found: dict[str, list[str]] = {}
    for subscription in app.state.runtime.subscriptions:
        found.setdefault(subscription.subject, []).append(subscription.durable)
    return {subject: tuple(sorted(names)) for subject, names in found.items()}


def test_the_consumers_named_in_the_permissions_are_the_services_consumers() -> None:
    from keybuzz_oauth.service import DEFINITION as OAUTH
    from keybuzz_orders.service import DEFINITION as ORDERS
    from keybuzz_poller.service import DEFINITION as POLLER

    for definition in (OAUTH, ORDERS, POLLER, TENANT_SYNC):
        named = {s: tuple(sorted(d)) for s, d in DURABLES[definition.name].items()}
        assert _subscribed_durables(definition) == named, definition.name


@pytest.mark.parametrize(
    ("environ", "refusal"),
    [
        ({"NATS_URL": "tls://nats:4222"}, "NATS credentials are required"),
        (
            {"NATS_URL": "nats://nats:4222", "NATS_USER": "poller", "NATS_PASSWORD": STRONG},
            "must use TLS",
        ),
        (
            {"NATS_URL": "tls://a:4222,nats://b:4222", "NATS_CREDS": "/run/secrets/poller.creds"},
            "must use TLS",
        ),
        ({"NATS_URL": "tls://nats:4222", "NATS_USER": "poller"}, "NATS credentials are required"),
    ],
)
def test_production_refuses_anonymous_or_plain_nats(environ, refusal) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(CommonSettings, {**PRODUCTION, **environ})
    assert refusal in refused.value.message
    assert STRONG not in refused.value.message


@pytest.mark.parametrize(
    "environ",
    [
        {"NATS_URL": "tls://nats:4222", "NATS_USER": "poller", "NATS_PASSWORD": STRONG},
        {"NATS_URL": "nats://nats:4222", "NATS_CA": "/etc/ca.pem", "NATS_CREDS": "/run/p.creds"},
        {"NATS_URL": f"tls://poller:{STRONG}@nats-0:4222,tls://poller:{STRONG}@nats-1:4222"},
    ],
)
def test_production_accepts_authenticated_tls_nats(environ) -> None:
    settings = load_settings(CommonSettings, {**PRODUCTION, **environ})
    assert STRONG not in repr(settings)


PRODUCTION = {
    "KEYBUZZ_ENV": "production",
    "JWT_SECRET": "j" * 40,
    "INTERNAL_API_KEY": "k" * 40,
    "VAULT_TOKEN": "hvs.production-token-value",
    "VAULT_ADDR": "https://vault:8200",
    "DATABASE_URL": "postgresql://svc:a-real-database-password@db.internal/keybuzz_backend",
}


async def _sequences(operator: Client, stream: str) -> list[int]:
    info = await operator.jetstream().stream_info(stream)
    return list(range(info.state.first_seq, info.state.last_seq + 1)) if info.state.messages else []


async def _async(value: object) -> object:
    await asyncio.sleep(0)
    return value


async def _ready(service) -> tuple[int, dict]:
    async with service.client() as http:
        response = await http.get("/ready")
    return response.status_code, response.json()


async def test_a_consumer_deleted_under_a_service_is_reported_and_created_again(
    private_nats, start_service
):
    """The poller's user deleted tenant-sync-tenant-updated: renames stopped, /ready said 200."""
    service = await start_service(TENANT_SYNC, NATS_URL=private_nats.spec.url)
    operator = await service.operator()
    js = operator.jetstream()
    assert (await _ready(service))[0] == 200
    await js.delete_consumer("TENANTS", "tenant-sync-tenant-updated")  # as only an operator may

    status, body = await _ready(service)
    assert status == 503
    assert body["checks"]["consumers"] is False
    assert body["reasons"] == [
        "consumer tenant-sync-tenant-updated on TENANTS was gone; created again"
    ]
    await js.consumer_info("TENANTS", "tenant-sync-tenant-updated")  # back, and consuming:
    await eventually(lambda: _ready_again(service))
    await publish_event(
        js, TenantUpdated(tenant_id="kbz-renamed", name="Renamed", plan="pro", status="active")
    )
    await consumer_drained(js, "TENANTS", "tenant-sync-tenant-updated")


async def _ready_again(service) -> bool:
    return (await _ready(service))[0] == 200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sealed": True}, "stream ORDERS is sealed and refuses every write"),
        ({"max_msgs": 1}, "stream ORDERS has max_msgs=1: it drops or refuses messages"),
    ],
)
async def test_a_stream_that_refuses_or_drops_writes_makes_the_service_not_ready(
    private_nats, start_service, change, reason
):
    """orders' user sealed ORDERS (for good) and its /ready still said 200."""
    service = await start_service(ORDERS, NATS_URL=private_nats.spec.url)
    operator = await service.operator()
    assert (await _ready(service))[0] == 200
    config = {
        "name": "ORDERS",
        "subjects": STREAMS["ORDERS"],
        "storage": "file",
        "duplicate_window": 600_000_000_000,
        **change,
    }
    answer = await operator.request("$JS.API.STREAM.UPDATE.ORDERS", msgspec.json.encode(config))
    assert "error" not in msgspec.json.decode(answer.data), answer.data

    status, body = await _ready(service)
    assert status == 503
    assert body["checks"]["streams"] is False
    assert body["reasons"] == [reason]


async def test_a_service_redrives_its_dead_letters_to_its_own_consumer_only(
    private_nats, start_service
):
    """tenant-sync may not publish tenant.created; its redrive replays to the consumer
    that parked the letter (redrive.<consumer>.<subject>), which nobody else takes."""
    service = await start_service(TENANT_SYNC, NATS_URL=private_nats.spec.url)
    operator = await service.operator()
    js = operator.jetstream()
    bad = b'{"tenantId":"not a tenant id","name":"x","plan":"pro","status":"active"}'
    await js.publish("tenant.created", bad)
    await eventually(lambda: _letters(js, 1))

    reply = await operator.request(
        "keybuzz.tenant-sync.redrive", b'{"subject":"tenant.created"}', 10
    )
    assert msgspec.json.decode(reply.data)["redriven"] == 1
    replay = await js.get_last_msg("TENANTS", "redrive.tenant-sync-tenant-created.tenant.created")
    assert replay.data == bad
    await eventually(lambda: _letters(js, 2))  # still bad: parked again, with its reason
    again = await operator.request("keybuzz.tenant-sync.redrive", b"{}", 10)
    assert msgspec.json.decode(again.data)["redriven"] == 1  # the new letter, not the first


async def _letters(js, count: int) -> bool:
    return (await js.stream_info("DEADLETTER")).state.messages == count


async def test_a_service_waits_for_its_streams_then_starts(
    private_nats, start_service, nats_users, caplog
):
    """Services never create a stream: one started before provisioning waits for it."""
    operator = await nats.connect(private_nats.spec.url)
    try:
        await operator.jetstream().delete_stream("TENANTS")  # as if never provisioned
        starting = asyncio.create_task(start_service(TENANT_SYNC, NATS_URL=private_nats.spec.url))
        await eventually(lambda: _async("waiting for streams to be provisioned" in caplog.text))
        assert not starting.done()
        await asyncio.to_thread(infra.provision_streams, private_nats.spec.url, nats_users)
        service = await asyncio.wait_for(starting, 30)
        assert (await _ready(service))[0] == 200
        await operator.jetstream().consumer_info("TENANTS", "tenant-sync-tenant-created")
    finally:
        await operator.close()


async def test_provisioning_puts_back_a_capped_stream_and_stops_on_a_sealed_one(
    private_nats, nats_users
):
    operator = await nats.connect(private_nats.spec.url)
    try:
        js = operator.jetstream()
        for n in range(3):
            await js.publish("tenant.created", b"{}", headers={"Nats-Msg-Id": f"p-{n}"})
        capped = {
            "name": "TENANTS",
            "subjects": STREAMS["TENANTS"],
            "max_msgs": 1,
            "duplicate_window": 600_000_000_000,
        }
        await operator.request("$JS.API.STREAM.UPDATE.TENANTS", msgspec.json.encode(capped))
        await asyncio.to_thread(infra.provision_streams, private_nats.spec.url, nats_users)
        info = await js.stream_info("TENANTS")
        assert info.config.max_msgs == -1 and problem(info) is None
        await js.publish("tenant.created", b"{}", headers={"Nats-Msg-Id": "after"})
        assert (await js.stream_info("TENANTS")).state.messages == 2  # no longer cut to 1

        sealed = {**capped, "max_msgs": -1, "sealed": True}
        await operator.request(
            "$JS.API.STREAM.UPDATE.ORDERS",
            msgspec.json.encode({**sealed, "name": "ORDERS", "subjects": STREAMS["ORDERS"]}),
        )
        with pytest.raises(StreamSealed, match="stream ORDERS is sealed"):
            await asyncio.to_thread(infra.provision_streams, private_nats.spec.url, nats_users)
    finally:
        await operator.close()
