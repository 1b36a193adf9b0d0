"""docs/events/ says what the code encodes: regenerated in memory, compared, and validated."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest
from keybuzz_shared import contracts
from keybuzz_shared.events import EVENT_TYPES, ConnectionConnected, TenantCreated, encode_event
from keybuzz_shared.streams import stream_for

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events"
REGENERATE = "run `.venv/bin/python -m keybuzz_shared.contracts` and commit docs/events/"


def test_documents_match_the_code():
    assert contracts.stale(DOCS) == [], f"docs/events/ drifted from the code: {REGENERATE}"


def test_drift_is_detected(tmp_path: Path):
    contracts.write(tmp_path)
    assert contracts.stale(tmp_path) == []
    schema = tmp_path / "tenant.created.json"
    schema.write_text(schema.read_text().replace('"plan"', '"planName"'))
    (tmp_path / "tenant.renamed.json").write_text("{}")
    assert contracts.stale(tmp_path) == ["tenant.created.json", "tenant.renamed.json"]
    assert contracts.main(["--check", "--out", str(tmp_path)]) == 1
    contracts.main(["--out", str(tmp_path)])
    assert contracts.stale(tmp_path) == [] and not (tmp_path / "tenant.renamed.json").exists()


def test_one_schema_per_subject_and_every_subject_in_asyncapi():
    published = {p.name for p in DOCS.glob("*.json")} - {contracts.ASYNCAPI_FILE}
    assert published == {f"{subject}.json" for subject in EVENT_TYPES}
    asyncapi = json.loads((DOCS / contracts.ASYNCAPI_FILE).read_text())
    channels = {c["address"]: c for c in asyncapi["channels"].values()}
    for subject in EVENT_TYPES:
        assert channels[subject]["x-keybuzz-stream"] == stream_for(subject)
        assert channels[subject]["x-keybuzz-producers"], subject
    assert channels["connection.connected"]["x-keybuzz-consumers"] == [
        "orders",
        "poller",
        "tenant-sync",
    ]
    receivers = {
        op["x-keybuzz-service"]
        for op in asyncapi["operations"].values()
        if op["action"] == "receive" and op["channel"]["$ref"] == "#/channels/tenant_created"
    }
    assert receivers == {"tenant-sync"}


@pytest.mark.parametrize(
    "event",
    [
        TenantCreated(tenant_id="kbz-001", name="Shop", plan="pro", status="active", country="FR"),
        ConnectionConnected(
            tenant_id="kbz-001",
            connection_id="c1",
            seller_id="A12BCIS2R7HD4D",
            marketplace_ids=["A13V1IB3VIYZZH"],
            region="eu",
        ),
    ],
)
def test_published_schemas_accept_what_producers_send(event):
    schema = json.loads((DOCS / f"{event.type}.json").read_text())
    jsonschema.validate(msgspec.json.decode(encode_event(event)), schema)


def test_published_schemas_refuse_what_consumers_refuse():
    schema = json.loads((DOCS / "tenant.created.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tenantId": "kbz-001", "name": "Shop", "plan": "pro"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tenantId": "../x", "name": "a", "plan": "b", "status": "c"}, schema)


def _subscribed_subjects(definition) -> set[str]:
    """What a service really consumes: its app is assembled (not started) and asked."""
    from keybuzz_shared.service import create_app
    from keybuzz_shared.settings import load_settings

    app = create_app(definition, load_settings(definition.settings_type, {}))
    return {subscription.subject for subscription in app.state.runtime.subscriptions}


def test_documented_consumers_are_what_the_services_subscribe_to():
    from keybuzz_oauth.service import DEFINITION as OAUTH
    from keybuzz_orders.service import DEFINITION as ORDERS
    from keybuzz_poller.service import DEFINITION as POLLER
    from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

    for definition in (OAUTH, ORDERS, POLLER, TENANT_SYNC):
        documented = {s for s, r in contracts.ROUTES.items() if definition.name in r.consumers}
        assert _subscribed_subjects(definition) == documented, definition.name
