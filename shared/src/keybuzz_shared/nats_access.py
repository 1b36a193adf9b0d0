"""Who may do what on NATS: one user per service, an operator, the product app.

Nothing connects anonymously, in any environment. Each service's user may publish
only the subjects it produces (and, for redrive, those it consumes), read only the
streams it consumes, answer only its own micro endpoints, and receive replies only
on its own inbox prefix. The permissions are derived from ``contracts.ROUTES``, the
same table the AsyncAPI document comes from, so the two cannot disagree. The dev
stack and the tests generate the server's configuration from here; production uses
the same rules through the NATS Helm values (docs/OPERATIONS.md, "NATS access").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from keybuzz_shared.contracts import ROUTES, SERVICES
from keybuzz_shared.messaging import dead_letter_subject, stream_for
from keybuzz_shared.streams import DEAD_LETTER_STREAM, STREAMS

OPERATOR = "operator"
PRODUCT_APP = "product-app"
USERS = (*SERVICES, OPERATOR, PRODUCT_APP)
# Services that refresh LWA tokens (keybuzz_shared.amazon.tokens) and so may report
# connection.reauth_required; ROUTES names them in words.
REAUTH_REPORTERS = ("orders",)
# What the product app announces; never tenant.synced, which only tenant-sync says.
PRODUCT_APP_SUBJECTS = ("tenant.created", "tenant.updated", "tenant.archived")


def inbox_prefix(user: str) -> str:
    """Replies to a user's requests arrive under this prefix, which only it may read."""
    return f"_INBOX_{user}"


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


def produced_by(service: str) -> list[str]:
    reports = ["connection.reauth_required"] if service in REAUTH_REPORTERS else []
    produced = [s for s, route in ROUTES.items() if service in route.producers]
    return sorted({*produced, *reports})


def consumed_by(service: str) -> list[str]:
    return sorted(s for s, route in ROUTES.items() if service in route.consumers)


def _jetstream_api(service: str) -> list[str]:
    """The JetStream API calls a service makes, on the streams it may touch."""
    every_stream = [name for name in STREAMS]
    read = sorted({stream_for(s) for s in consumed_by(service)} | {DEAD_LETTER_STREAM})
    calls = ["$JS.API.INFO"]
    # Every service ensures every stream exists at start-up (streams.ensure_streams).
    for stream in every_stream:
        calls += [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]
    for stream in read:  # its durable consumers (and redrive's ephemeral one on DEADLETTER)
        calls += [
            f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>",
            f"$JS.API.CONSUMER.DELETE.{stream}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.ACK.{stream}.>",
        ]
    # Redrive deletes the dead letters it replayed; it never purges the stream.
    calls.append(f"$JS.API.STREAM.MSG.DELETE.{DEAD_LETTER_STREAM}")
    return calls


def service_permissions(service: str) -> Permissions:
    own_subjects = sorted({*produced_by(service), *consumed_by(service)})
    return Permissions(
        publish=[
            *own_subjects,  # what it emits, and what redrive replays to its consumers
            dead_letter_subject(service, ">"),
            *_jetstream_api(service),
        ],
        subscribe=[
            f"{inbox_prefix(service)}.>",
            f"keybuzz.{service}.>",  # its operator actions (micro endpoints)
            "$SRV.>",  # `nats micro ls/info`
        ],
        allow_responses=True,
    )


def permissions(user: str) -> Permissions:
    if user == OPERATOR:
        return Permissions(publish=[">"], subscribe=[">"], allow_responses=True)
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
