"""Each of the four services starts on the shared frame: HTTP, migrations, NATS micro service."""

import json

import nats
import pytest
from keybuzz_devstack.testing import start_service_on_module_nats
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

# On a NATS of the module's: on the session's, a service's durable consumer takes the events
# earlier tests left there, whose handling (their dependencies gone with those tests) is
# work and log lines that are not this file's.
start_service = start_service_on_module_nats


@pytest.mark.parametrize("definition", [OAUTH, POLLER, ORDERS, TENANT_SYNC], ids=lambda d: d.name)
async def test_service_starts_and_is_ready(start_service, make_database, dovecot, definition):
    own = {"imap": True} if definition is POLLER else {}  # the poller's ready_checks
    # An empty database, as at a first deployment (start_service's own is migrated already).
    empty = await make_database(definition.name)
    service = await start_service(
        definition, DATABASE_URL=empty, **(dovecot.settings if own else {})
    )
    async with service.client() as http:
        health = await http.get("/health")
        ready = await http.get("/ready")
        openapi = await http.get("/schema/openapi.json")
    assert health.status_code == 200 and health.json()["service"] == definition.name
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "nats": True,
        "database": True,
        "vault": True,
        "streams": True,
        "consumers": True,
        **own,
    }
    assert openapi.status_code == 200 and "/ready" in openapi.json()["paths"]

    applied = await service.runtime.pool.fetch(
        "SELECT component, version FROM schema_migrations ORDER BY component, version"
    )
    assert ("keybuzz_shared", 1) in [(r["component"], r["version"]) for r in applied]

    # An operator's `nats micro ls` sends $SRV.PING; every service answers under its name.
    operator = await nats.connect(service.operator_url)
    inbox = operator.new_inbox()
    sub = await operator.subscribe(inbox)
    await operator.publish("$SRV.PING", b"", reply=inbox)
    names = set()
    try:
        while True:
            msg = await sub.next_msg(timeout=0.5)
            names.add(json.loads(msg.data)["name"])
    except Exception:
        pass
    finally:
        await operator.close()
    assert f"keybuzz-{definition.name}" in names
