"""Every NATS user against everything it must not do, on a real server.

The expectations come from the contracts (``contracts.ROUTES``: who produces and who
consumes each subject), the streams and the consumers' names, not from the
permissions under test: a user allowed ``keybuzz.>`` or ``$JS.API.>`` fails here.
Each attempt is a request (a reply inbox of the user's own), so one the server let
through is answered and seen; one it refused gets a permissions violation and no
answer. The attempts are real (a seal, a purge, a consumer deletion, forged events)
and run on a NATS of the test's own, whose streams and consumers are checked
unchanged afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import nats
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.testing import eventually
from keybuzz_shared.contracts import ROUTES, SERVICES
from keybuzz_shared.nats_access import DURABLES, PRODUCT_APP, PROVISIONER, REAUTH_REPORTERS
from keybuzz_shared.nats_connection import inbox_prefix
from keybuzz_shared.streams import DEAD_LETTER_STREAM, STREAMS, problem, stream_for
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

# What the contracts say each user may publish (the reauth report: its reporters, words in ROUTES).
SAYS = {
    **{s: {subj for subj, r in ROUTES.items() if s in r.producers} for s in SERVICES},
    PRODUCT_APP: {"tenant.created", "tenant.updated", "tenant.archived"},
    PROVISIONER: set(),
}
for reporter in REAUTH_REPORTERS:
    SAYS[reporter].add("connection.reauth_required")
READS = {s: {stream_for(subj) for subj, r in ROUTES.items() if s in r.consumers} for s in SERVICES}
USERS_UNDER_TEST = (*SERVICES, PRODUCT_APP, PROVISIONER)


@dataclass
class Attempts:
    """What a user tries and must be refused: publishes (as requests) and subscriptions."""

    publish: dict[str, bytes] = field(default_factory=dict)
    subscribe: list[str] = field(default_factory=list)


def _others(user: str) -> Iterator[str]:
    return (s for s in SERVICES if s != user)


def refused(user: str) -> Attempts:
    attempts = Attempts()
    body = json.dumps({"tenantId": "matrix-victim", "name": "M", "plan": "pro", "status": "active"})
    for subject in ROUTES:
        if subject not in SAYS[user]:  # forging what it does not say
            attempts.publish[subject] = body.encode()
        attempts.subscribe.append(subject)  # events are read through its consumers only
    for stream, subjects in STREAMS.items():  # breaking a stream
        sealed = {"name": stream, "subjects": subjects, "sealed": True}
        capped = {"name": stream, "subjects": subjects, "max_msgs": 1}
        if user != PROVISIONER:
            attempts.publish[f"$JS.API.STREAM.UPDATE.{stream}"] = json.dumps(sealed).encode()
            attempts.publish[f"$JS.API.STREAM.CREATE.{stream}"] = json.dumps(capped).encode()
        attempts.publish[f"$JS.API.STREAM.DELETE.{stream}"] = b""
        attempts.publish[f"$JS.API.STREAM.PURGE.{stream}"] = b""
        attempts.publish[f"$JS.API.STREAM.MSG.DELETE.{stream}"] = b'{"seq": 1}'
        if stream not in READS.get(user, set()):  # reading a stream it does not consume
            attempts.publish[f"$JS.API.STREAM.MSG.GET.{stream}"] = b'{"seq": 1}'
            attempts.publish[f"$JS.API.DIRECT.GET.{stream}"] = b'{"seq": 1}'
            attempts.publish[f"$JS.API.CONSUMER.CREATE.{stream}"] = json.dumps(
                {"stream_name": stream, "config": {"ack_policy": "none"}}
            ).encode()
    attempts.publish[f"$JS.API.CONSUMER.CREATE.{DEAD_LETTER_STREAM}"] = json.dumps(
        {"stream_name": DEAD_LETTER_STREAM, "config": {"ack_policy": "none"}}
    ).encode()
    for other in (s for s in SERVICES if s != user):
        _refused_towards(user, other, attempts)
    attempts.subscribe += ["_INBOX.>", f"{inbox_prefix('operator')}.>", "$SRV.>"]
    return attempts


def _refused_towards(user: str, other: str, attempts: Attempts) -> None:
    """Another service's endpoints, replies, dead letters and consumers."""
    attempts.publish[f"keybuzz.{other}.redrive"] = b"{}"
    attempts.publish[f"deadletter.{other}.tenant.created"] = b"{}"
    attempts.subscribe += [
        f"keybuzz.{other}.>",  # answering its operator actions
        f"keybuzz.{other}.redrive",
        f"$SRV.INFO.keybuzz-{other}",
        f"{inbox_prefix(other)}.>",
        f"deadletter.{other}.>",
    ]
    for subject, durables in DURABLES[other].items():
        stream = stream_for(subject)
        name = f"{user}-redrive-{subject.replace('.', '-')}"  # its own name, their letters
        attempts.publish[
            f"$JS.API.CONSUMER.CREATE.{DEAD_LETTER_STREAM}.{name}.deadletter.{other}.{subject}"
        ] = json.dumps(
            {
                "stream_name": DEAD_LETTER_STREAM,
                "config": {"name": name, "filter_subject": f"deadletter.{other}.{subject}"},
            }
        ).encode()
        for durable in durables:
            attempts.publish[f"redrive.{durable}.{subject}"] = b"{}"
            for verb in ("DELETE", "INFO", "MSG.NEXT"):
                attempts.publish[f"$JS.API.CONSUMER.{verb}.{stream}.{durable}"] = b""
            attempts.publish[f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"] = json.dumps(
                {"stream_name": stream, "config": {"durable_name": durable, "ack_policy": "none"}}
            ).encode()


class Seen:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.answered: list[str] = []

    async def error(self, error: Exception) -> None:
        self.errors.append(str(error).lower())

    def denied(self, kind: str, subject: str) -> bool:
        needle = f'{kind} to "{subject.lower()}"'
        return any("permissions violation" in e and needle in e for e in self.errors)


@pytest.fixture
async def operator(private_nats):
    nc = await nats.connect(private_nats.spec.url)
    js = nc.jetstream()
    for service, by_subject in DURABLES.items():  # every service's consumers, as they run
        for subject, durables in by_subject.items():
            for durable in durables:
                config = ConsumerConfig(durable_name=durable, filter_subject=subject)
                await js.add_consumer(stream_for(subject), config)
        await js.publish(f"deadletter.{service}.tenant.created", b"{}")  # a dead letter each
    yield nc
    await nc.close()


@pytest.mark.parametrize("user", USERS_UNDER_TEST)
async def test_each_user_is_refused_everything_not_its_own(
    user: str, private_nats, nats_users, operator
) -> None:
    attempts = refused(user)
    seen = Seen()
    nc = await nats.connect(
        infra.without_credentials(private_nats.spec.url),
        user=user,
        password=nats_users[user],
        inbox_prefix=inbox_prefix(user),
        error_cb=seen.error,
        max_reconnect_attempts=0,
    )
    try:
        replies = inbox_prefix(user) + ".matrix"

        async def answered(msg: Msg) -> None:
            seen.answered.append(attempted[msg.subject])

        await nc.subscribe(f"{replies}.*", cb=answered)
        attempted: dict[str, str] = {}
        for index, (subject, body) in enumerate(attempts.publish.items()):
            attempted[f"{replies}.{index}"] = subject
            await nc.publish(subject, body, reply=f"{replies}.{index}")
        for subject in attempts.subscribe:
            await nc.subscribe(subject)
        await nc.flush()
        expected = len(attempts.publish) + len(attempts.subscribe)

        async def all_refused() -> bool:  # each at once; a loaded machine may take any time
            return len(seen.errors) >= expected

        with contextlib.suppress(AssertionError):  # what was not refused is said below
            await eventually(all_refused, within=None)
        await asyncio.sleep(0.3)  # anything let through would be answered by now
    finally:
        await nc.close()
    assert seen.answered == [], f"{user} was let through: {seen.answered}"
    allowed = [s for s in attempts.publish if not seen.denied("publish", s)]
    allowed += [s for s in attempts.subscribe if not seen.denied("subscription", s)]
    assert allowed == [], f"{user} was not refused: {allowed}"
    await _nothing_changed(operator)


async def _nothing_changed(operator) -> None:
    js = operator.jetstream()
    for stream in STREAMS:
        info = await js.stream_info(stream)
        assert problem(info) is None, problem(info)
        if stream != DEAD_LETTER_STREAM:
            assert not info.state.messages, f"something reached {stream}"
    assert (await js.stream_info(DEAD_LETTER_STREAM)).state.messages == len(SERVICES)
    for by_subject in DURABLES.values():
        for subject, durables in by_subject.items():
            for durable in durables:
                await js.consumer_info(stream_for(subject), durable)  # still there
