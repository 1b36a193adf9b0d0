"""Who may do what on NATS: one user per service, an operator, the product app, the provisioner.

Nothing connects anonymously, in any environment. Each service's user may publish
only the subjects it produces, its own dead letters and their replays to its own
consumers; read the streams it consumes through its own consumers only; look its
streams up but never change them; answer only its own micro endpoints; and receive
replies only on its own inbox prefix. Only the provisioner creates and updates
streams. The permissions are derived from ``contracts.ROUTES``, the
same table the AsyncAPI document comes from, so the two cannot disagree. The dev
stack and the tests generate the server's configuration from here; production uses
the same rules through the NATS Helm values (docs/OPERATIONS.md, "NATS access").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from keybuzz_shared.contracts import ROUTES, SERVICES
from keybuzz_shared.nats_connection import inbox_prefix
from keybuzz_shared.streams import (
    DEAD_LETTER_STREAM,
    STREAMS,
    dead_letter_subject,
    redrive_consumer,
    redrive_subject,
    stream_for,
)

OPERATOR = "operator"
PRODUCT_APP = "product-app"
# Creates and updates the streams (keybuzz_shared.streams provision); no service holds it.
PROVISIONER = "provisioner"
USERS = (*SERVICES, OPERATOR, PRODUCT_APP, PROVISIONER)
# Services that may report connection.reauth_required (a marketplace refused a refresh
# token or a shop's key); ROUTES names them in words.
REAUTH_REPORTERS = ("orders", "poller")
# What the product app announces; never tenant.synced, which only tenant-sync says.
PRODUCT_APP_SUBJECTS = ("tenant.created", "tenant.updated", "tenant.archived")


@dataclass(frozen=True)
class Permissions:
    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)
    allow_responses: bool = False  # may answer requests sent to what it subscribes to

    def as_config(self) -> dict[str, object]:
        config: dict[str, object] = {
            "publish": {"allow": self.publish},
            "subscribe": {"allow": self.subscribe},
        }
        if self.allow_responses:
            config["allow_responses"] = True
        return config


# Each service's durable consumers (messaging.EventSubscription names them
# ``<service>-<purpose>``), by subject. NATS permissions match whole subject tokens, so a
# service's rights on its own consumers name each of them: it cannot create, read or
# delete another's. tests/test_nats_access.py checks this table against the services.
DURABLES: dict[str, dict[str, tuple[str, ...]]] = {
    "oauth": {"connection.reauth_required": ("oauth-mark-reauth-required",)},
    "orders": {
        "connection.connected": ("orders-backfill", "orders-notify-subscribe"),
        "connection.disconnected": (
            "orders-stop-backfill-disconnected",
            "orders-notify-unsubscribe",
        ),
        "connection.reauth_required": (
            "orders-stop-backfill-reauth",
            "orders-notify-unsubscribe-reauth",
        ),
        "message.received": ("orders-order-context",),
    },
    "poller": {
        "tenant.synced": ("poller-inbound-addresses",),
        "tenant.archived": ("poller-tenant-archived",),
        "connection.connected": ("poller-connected-poll",),
        "connection.disconnected": ("poller-shop-disconnected",),
        "connection.reauth_required": ("poller-shop-reauth-required",),
    },
    "tenant-sync": {
        "tenant.created": ("tenant-sync-tenant-created",),
        "tenant.updated": ("tenant-sync-tenant-updated",),
        "tenant.archived": ("tenant-sync-tenant-archived",),
        "message.received": ("tenant-sync-inbound-activation",),
        "tenant.inbound_address.receiving": ("tenant-sync-address-receiving",),
        "connection.connected": ("tenant-sync-connection-connected",),
        "connection.disconnected": ("tenant-sync-connection-disconnected",),
        "connection.reauth_required": ("tenant-sync-connection-reauth-required",),
    },
}


def produced_by(service: str) -> list[str]:
    reports = ["connection.reauth_required"] if service in REAUTH_REPORTERS else []
    produced = [s for s, route in ROUTES.items() if service in route.producers]
    return sorted({*produced, *reports})


def consumed_by(service: str) -> list[str]:
    return sorted(s for s, route in ROUTES.items() if service in route.consumers)


def streams_of(service: str) -> list[str]:
    """The streams a service writes to or reads from (its dead letters included)."""
    subjects = [*produced_by(service), *consumed_by(service)]
    return sorted({*(stream_for(s) for s in subjects), DEAD_LETTER_STREAM})


def _consumer_api(stream: str, consumer: str, create: str) -> list[str]:
    return [
        create,
        f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
    ]


def _jetstream_api(service: str) -> list[str]:
    """The JetStream API calls a service makes: look its streams up, use its own consumers.

    Never STREAM.CREATE/UPDATE/DELETE/PURGE nor MSG.DELETE (provisioning's and the
    operator's), never another service's consumer.
    """
    calls = ["$JS.API.INFO"]
    calls += [f"$JS.API.STREAM.INFO.{stream}" for stream in streams_of(service)]
    for subject, durables in DURABLES.get(service, {}).items():
        stream = stream_for(subject)
        for durable in durables:
            create = f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"
            calls += _consumer_api(stream, durable, create)
    # Truncated dead letters are read back whole from the stream they came from.
    calls += [
        f"$JS.API.STREAM.MSG.GET.{s}" for s in sorted({stream_for(c) for c in consumed_by(service)})
    ]
    for subject in consumed_by(service):  # redrive reads its own dead letters, subject by subject
        name, filtered = redrive_consumer(service, subject), dead_letter_subject(service, subject)
        create = f"$JS.API.CONSUMER.CREATE.{DEAD_LETTER_STREAM}.{name}.{filtered}"
        calls += _consumer_api(DEAD_LETTER_STREAM, name, create)
    return calls


def redrive_targets(service: str) -> list[str]:
    """Where its redrive replays: ``redrive.<durable>.<subject>``, which only that consumer takes."""
    return sorted(
        redrive_subject(durable, subject)
        for subject, durables in DURABLES.get(service, {}).items()
        for durable in durables
    )


def service_permissions(service: str) -> Permissions:
    return Permissions(
        publish=[
            *produced_by(service),  # what it emits; never what it only consumes
            dead_letter_subject(service, ">"),
            *redrive_targets(service),
            *_jetstream_api(service),
        ],
        subscribe=[
            f"{inbox_prefix(service)}.>",
            f"keybuzz.{service}.>",  # its operator actions (micro endpoints)
            # `nats micro ls/info`: the name-less discovery requests, and its own. Each
            # named: an allowed `$SRV.*` also lets `$SRV.>` through (the server matches
            # the `>` token against `*`), which hears every other service's requests.
            *(f"$SRV.{verb}" for verb in ("PING", "INFO", "STATS")),
            f"$SRV.*.keybuzz-{service}",
            f"$SRV.*.keybuzz-{service}.*",
        ],
        allow_responses=True,
    )


def provisioner_permissions() -> Permissions:
    """Create, update and look up KeyBuzz's streams; nothing else (no delete, no messages)."""
    calls = ["$JS.API.INFO"]
    for stream in STREAMS:
        calls += [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]
    return Permissions(publish=calls, subscribe=[f"{inbox_prefix(PROVISIONER)}.>"])


def permissions(user: str) -> Permissions:
    if user == OPERATOR:
        return Permissions(publish=[">"], subscribe=[">"], allow_responses=True)
    if user == PROVISIONER:
        return provisioner_permissions()
    if user == PRODUCT_APP:
        return Permissions(
            publish=list(PRODUCT_APP_SUBJECTS), subscribe=[f"{inbox_prefix(user)}.>"]
        )
    if user in SERVICES:
        return service_permissions(user)
    raise ValueError(f"no NATS user {user!r}; known: {', '.join(USERS)}")


def server_authorization(passwords: dict[str, str]) -> str:
    """The ``authorization`` block of a nats-server configuration (JSON is valid there)."""
    users = [
        {"user": user, "password": password, "permissions": permissions(user).as_config()}
        for user, password in sorted(passwords.items())
    ]
    return json.dumps({"authorization": {"users": users}}, indent=2)


def password_variable(user: str) -> str:
    """The NATS server's environment variable holding ``user``'s password (production)."""
    return "NATS_" + user.upper().replace("-", "_") + "_PASSWORD"


def helm_authorization() -> dict[str, object]:
    """The ``authorization`` block of the NATS Helm values: the same users and permissions,
    each password read by the server from its environment (a Kubernetes Secret; the
    chart writes ``<< $VAR >>`` unquoted, a variable reference in the server's config)."""
    users = [
        {
            "user": user,
            "password": f"<< ${password_variable(user)} >>",
            "permissions": permissions(user).as_config(),
        }
        for user in USERS
    ]
    return {"users": users}


if __name__ == "__main__":  # the Helm values' block (deploy/k8s/helm/nats-values.yaml)
    print(json.dumps({"authorization": helm_authorization()}, indent=2))
