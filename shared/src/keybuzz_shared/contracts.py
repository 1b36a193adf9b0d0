"""Event contracts as documents: JSON Schema per subject and one AsyncAPI document.

Generated from the code that encodes and decodes the events
(:mod:`keybuzz_shared.events`, msgspec's own JSON Schema), the streams
(:data:`keybuzz_shared.streams.STREAMS`) and who publishes and consumes each
subject (:data:`ROUTES`, docs/CONTRACTS.md, "Events"), so the documents cannot say something
the code does not do. ``tests/test_event_contracts.py`` regenerates them in
memory and fails when they drift from ``docs/events/``.

    python -m keybuzz_shared.contracts            # (re)write docs/events/
    python -m keybuzz_shared.contracts --check    # exit 1 when docs/events/ is stale
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from keybuzz_shared.events import EVENT_TYPES, SCHEMA_VERSION, Event
from keybuzz_shared.streams import DEAD_LETTER_PREFIX, dead_letter_subject, stream_for

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
DEFAULT_OUT = Path("docs/events")
SCHEMAS_REF = "#/components/schemas/{name}"
PRODUCT_APP = "product app (external)"
SERVICES = ("oauth", "poller", "orders", "tenant-sync")


@dataclass(frozen=True)
class Route:
    """Who publishes and who consumes a subject (docs/CONTRACTS.md, "Events"; services by name)."""

    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    meaning: str


_TENANT_CHANGE = Route(
    (PRODUCT_APP, "operators (nats pub)"),
    ("tenant-sync",),
    "a tenant changed in the product database",
)
# The poller reads relayed mail by inbound address, with no marketplace credentials, but
# polls the shops of API marketplaces with their keys: it stops polling a shop on these
# (tests/test_event_contracts.py checks consumers against code). tenant-sync keeps its
# projection of connections (what its status endpoint shows).
_STOP_USING = Route(
    (
        "oauth",
        "any service whose token refresh the marketplace refuses",
        "the poller when a marketplace refuses a shop's key",
    ),
    ("orders", "poller", "tenant-sync"),
    "stop using these credentials",
)
ROUTES: dict[str, Route] = {
    "tenant.created": _TENANT_CHANGE,
    "tenant.updated": _TENANT_CHANGE,
    # the poller stops polling an archived tenant's mailbox
    "tenant.archived": Route(
        _TENANT_CHANGE.producers, ("tenant-sync", "poller"), _TENANT_CHANGE.meaning
    ),
    "tenant.synced": Route(
        ("tenant-sync",),
        ("poller",),
        "marketplace copy and inbound addresses are up to date",
    ),
    "tenant.inbound_address.receiving": Route(
        ("poller",),
        ("tenant-sync",),
        "the poller's MX accepts mail for an inbound address (its projection holds it):"
        " tenant-sync shows the address as ready (`receiving`) only from then on",
    ),
    "connection.connected": Route(
        ("oauth",), ("orders", "poller", "tenant-sync"), "a tenant connected a marketplace account"
    ),
    "connection.disconnected": _STOP_USING,
    # oauth consumes it too: it is the only writer of the connection row.
    "connection.reauth_required": Route(
        _STOP_USING.producers, ("oauth", *_STOP_USING.consumers), _STOP_USING.meaning
    ),
    "message.received": Route(
        ("poller",), ("orders", "tenant-sync"), "a new buyer message was stored as a ticket message"
    ),
    "message.sent": Route(
        ("poller",),
        (),
        "an agent's reply was accepted by the marketplace's mail relay (SMTP 250) or its API"
        " (`marketplace` says which)",
    ),
    "message.bounced": Route(
        ("poller",),
        (),
        "an agent's reply did not reach the buyer: refused at SMTP or by the marketplace's API"
        " (its ERR_ codes in `statusCode`), out of retries, or bounced",
    ),
    "ticket.response_due": Route(
        ("poller",),
        (),
        "a ticket's response deadline is within the tenant's lead time (default 2 h)",
    ),
    "ticket.response_overdue": Route(
        ("poller",), (), "a ticket's response deadline passed without a counting reply"
    ),
    "order.backfill.completed": Route(("orders",), (), "a backfill job ended, with counts"),
    "order.backfill.failed": Route(
        ("orders",), (), "a backfill job failed, with counts and the reason"
    ),
}


def _dump(document: Any) -> str:
    return json.dumps(_cleaned(document), indent=2, ensure_ascii=False) + "\n"


def _cleaned(node: Any) -> Any:
    """Every description as ``inspect.cleandoc`` leaves a docstring: msgspec gives a
    Struct's docstring as written up to 0.22, cleaned from 0.23; the documents say the same
    whichever is installed."""
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _cleaned(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_cleaned(value) for value in node]
    return node


def subject_schema(event_type: type[Event]) -> dict[str, Any]:
    """The JSON Schema of one subject's body, as msgspec validates it."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{event_type.SUBJECT}.json",
        "title": event_type.SUBJECT,
        **msgspec.json.schema(event_type),
    }


def _key(subject: str) -> str:
    """AsyncAPI ids may not contain dots."""
    return subject.replace(".", "_")


def _channel(subject: str, event_type: type[Event]) -> dict[str, Any]:
    route = ROUTES[subject]
    return {
        "address": subject,
        "title": subject,
        "description": route.meaning,
        "messages": {event_type.__name__: {"$ref": f"#/components/messages/{event_type.__name__}"}},
        "x-keybuzz-stream": stream_for(subject),
        "x-keybuzz-producers": list(route.producers),
        "x-keybuzz-consumers": list(route.consumers),
    }


def _operations(subject: str) -> dict[str, Any]:
    route, channel = ROUTES[subject], {"$ref": f"#/channels/{_key(subject)}"}
    ours = {"send": route.producers, "receive": route.consumers}
    return {
        f"{_key(service)}__{action}__{_key(subject)}": {
            "action": action,
            "channel": channel,
            "title": f"{service} {'publishes' if action == 'send' else 'consumes'} {subject}",
            "x-keybuzz-service": service,
        }
        for action, services in ours.items()
        for service in services
        if service in SERVICES  # external parties are named in the channel only
    }


def _message(event_type: type[Event]) -> dict[str, Any]:
    return {
        "name": event_type.__name__,
        "title": event_type.SUBJECT,
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/NatsHeaders"},
        "payload": {"$ref": SCHEMAS_REF.format(name=event_type.__name__)},
    }


_NATS_HEADERS = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "the event id: JetStream drops a re-published duplicate",
        },
        "KeyBuzz-Event-Type": {"type": "string", "description": "the subject"},
    },
}


def _dead_letter_channel() -> dict[str, Any]:
    return {
        "address": dead_letter_subject("{service}", "{subject}"),
        "title": "dead letters",
        "description": (
            "events a consumer could not process, as received; the reason is in the "
            "KeyBuzz-Dead-Letter-Reason header (`nats stream view DEADLETTER`)"
        ),
        "parameters": {
            "service": {"description": "the consuming service"},
            "subject": {"description": "the subject the event was published on"},
        },
        "x-keybuzz-stream": stream_for(f"{DEAD_LETTER_PREFIX}.x"),
        "x-keybuzz-producers": ["every consuming service"],
        "x-keybuzz-consumers": ["operators"],
    }


def asyncapi_document() -> dict[str, Any]:
    subjects = sorted(EVENT_TYPES)
    types = [EVENT_TYPES[s] for s in subjects]
    _, schemas = msgspec.json.schema_components(types, ref_template=SCHEMAS_REF)
    operations: dict[str, Any] = {}
    for subject in subjects:
        operations.update(_operations(subject))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "KeyBuzz marketplace integrations: events",
            "version": f"{SCHEMA_VERSION}",
            "description": (
                "Generated by `python -m keybuzz_shared.contracts` from keybuzz_shared.events, "
                "keybuzz_shared.streams and the producers/consumers of docs/CONTRACTS.md (Events). "
                "JSON bodies, camelCase; consumers ignore unknown fields."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "development": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "make run / make up (JetStream)",
            }
        },
        "channels": {
            **{_key(s): _channel(s, EVENT_TYPES[s]) for s in subjects},
            "deadletter": _dead_letter_channel(),
        },
        "operations": operations,
        "components": {
            "messages": {t.__name__: _message(t) for t in types},
            "schemas": {"NatsHeaders": _NATS_HEADERS, **schemas},
        },
    }


def render() -> dict[str, str]:
    """Every document, file name → text, exactly as written to ``docs/events/``."""
    missing = sorted(set(EVENT_TYPES) - set(ROUTES))
    if missing:
        raise LookupError(f"no producers/consumers declared in contracts.ROUTES for {missing}")
    documents = {f"{s}.json": _dump(subject_schema(EVENT_TYPES[s])) for s in sorted(EVENT_TYPES)}
    documents[ASYNCAPI_FILE] = _dump(asyncapi_document())
    return documents


def stale(out: Path) -> list[str]:
    """Files in ``out`` that differ from the code, are missing, or are left over."""
    expected = render()
    present = {p.name for p in out.glob("*.json")} if out.is_dir() else set()
    changed = [
        name
        for name, text in expected.items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + sorted(present - set(expected)))


def write(out: Path) -> list[str]:
    """Write the documents, remove those of subjects not in the catalogue; returns changes."""
    changes = stale(out)
    out.mkdir(parents=True, exist_ok=True)
    expected = render()
    for name in changes:
        target = out / name
        if name in expected:
            target.write_text(expected[name], encoding="utf-8")
        else:
            target.unlink()
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keybuzz_shared.contracts", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/events")
    parser.add_argument("--check", action="store_true", help="only report stale documents")
    args = parser.parse_args(argv)
    if args.check:
        changes = stale(args.out)
        for name in changes:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if changes else 0
    for name in write(args.out):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
