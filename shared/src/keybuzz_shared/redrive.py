"""Replay a service's dead-lettered events to the consumers that parked them.

Operators: ``nats req keybuzz.<service>.redrive '{"subject": "tenant.created"}'``
or ``python -m keybuzz_shared.redrive <service> [--subject S] [--limit N]``.

A durable consumer per subject (``<service>-redrive-<subject>``) reads the service's own
dead letters and re-publishes each to ``redrive.<consumer>.<subject>`` in the original
stream, which only the consumer that parked it takes. ``Nats-Msg-Id`` =
``redrive-<dead-letter sequence>`` makes a redrive run twice publish nothing twice. Dead
letters stay in ``DEADLETTER``; a truncated one is replayed from the original stream, or
counted ``lost`` when that is gone (docs/OPERATIONS.md, "Dead letters and redrive").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterable

import msgspec
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from keybuzz_shared.messaging import (
    CONSUMER_HEADER,
    ORIGINAL_SEQUENCE_HEADER,
    ORIGINAL_STREAM_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    TRUNCATED_HEADER,
)
from keybuzz_shared.micro import OperatorError
from keybuzz_shared.nats_access import consumed_by
from keybuzz_shared.nats_connection import NatsAccess
from keybuzz_shared.streams import (
    DEAD_LETTER_STREAM,
    dead_letter_subject,
    redrive_consumer,
    redrive_subject,
)

_KEPT_HEADERS = ("traceparent", "tracestate", "KeyBuzz-Event-Type")
_ACK_WAIT_SECONDS = 30.0  # a letter taken by a redrive that died is offered again after it


class RedriveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject: str | None = None  # only this original subject (e.g. tenant.created)
    limit: int = msgspec.field(default=1000)


class RedriveReport(msgspec.Struct, kw_only=True, rename="camel"):
    redriven: int
    lost: int  # truncated dead letters whose original is gone from its stream: kept
    remaining: int


async def redrive(
    js: JetStreamContext,
    service: str,
    request: RedriveRequest | None = None,
    subjects: Iterable[str] | None = None,
) -> RedriveReport:
    """``subjects``: those the service consumes (default: its routes, contracts.ROUTES)."""
    request = request or RedriveRequest()
    consumed = sorted(set(subjects if subjects is not None else consumed_by(service)))
    if request.subject is not None and request.subject not in consumed:
        raise OperatorError(f"{service} does not consume {request.subject}; it has no dead letters")
    report = RedriveReport(redriven=0, lost=0, remaining=0)
    for subject in [request.subject] if request.subject else consumed:
        left = request.limit - report.redriven - report.lost
        await _redrive_subject(js, service, subject, max(left, 0), report)
    return report


async def _redrive_subject(
    js: JetStreamContext, service: str, subject: str, limit: int, report: RedriveReport
) -> None:
    name = redrive_consumer(service, subject)
    info = await js.add_consumer(
        DEAD_LETTER_STREAM,
        ConsumerConfig(
            name=name,
            durable_name=name,
            filter_subject=dead_letter_subject(service, subject),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=_ACK_WAIT_SECONDS,
        ),
    )
    to_take = min(limit, info.num_pending or 0)
    if to_take:
        for letter in await _take(js, name, to_take):
            if await _replay(js, letter):
                report.redriven += 1
            else:
                report.lost += 1
    info = await js.consumer_info(DEAD_LETTER_STREAM, name)
    report.remaining += (info.num_pending or 0) + (info.num_ack_pending or 0)


async def _take(js: JetStreamContext, consumer: str, count: int) -> list[Msg]:
    sub = await js.pull_subscribe_bind(consumer, DEAD_LETTER_STREAM)
    found: list[Msg] = []
    try:
        while len(found) < count:
            try:
                found += await sub.fetch(min(256, count - len(found)), timeout=1.0)
            except TimeoutError:  # nothing more (nats-py raises both kinds)
                break
    finally:
        await sub.unsubscribe()
    return found


async def _replay(js: JetStreamContext, letter: Msg) -> bool:
    """Re-publish one dead letter to its consumer, then acknowledge it (False: kept)."""
    headers = letter.headers or {}
    body = await _original_body(js, letter)
    if body is None or ORIGINAL_SUBJECT_HEADER not in headers or CONSUMER_HEADER not in headers:
        return False
    target = redrive_subject(headers[CONSUMER_HEADER], headers[ORIGINAL_SUBJECT_HEADER])
    await js.publish(target, body, headers=_replay_headers(letter))
    await letter.ack_sync()
    return True


async def _original_body(js: JetStreamContext, letter: Msg) -> bytes | None:
    headers = letter.headers or {}
    if TRUNCATED_HEADER not in headers:
        return letter.data
    try:
        original = await js.get_msg(
            headers[ORIGINAL_STREAM_HEADER], int(headers[ORIGINAL_SEQUENCE_HEADER])
        )
    except (NotFoundError, KeyError, ValueError):
        return None
    return original.data


def _replay_headers(letter: Msg) -> dict[str, str]:
    headers = {k: v for k, v in (letter.headers or {}).items() if k in _KEPT_HEADERS}
    headers["Nats-Msg-Id"] = f"redrive-{letter.metadata.sequence.stream}"
    return headers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a service's dead-lettered events.")
    parser.add_argument("service", help="e.g. tenant-sync")
    parser.add_argument("--subject", help="only this original subject, e.g. tenant.created")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--nats-url", default=None, help="default: $NATS_URL or local")
    args = parser.parse_args(argv)
    # As the operator: NATS_USER/NATS_PASSWORD (or NATS_CREDS, NATS_CA) from the
    # environment, as the `nats` CLI reads them, or user:password in the URL.
    access = NatsAccess(
        os.environ.get("NATS_USER"),
        os.environ.get("NATS_PASSWORD"),
        os.environ.get("NATS_CREDS"),
        os.environ.get("NATS_CA"),
    )

    async def run() -> RedriveReport:
        nc = await nats.connect(
            args.nats_url or os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            **access.options(),
        )
        try:
            request = RedriveRequest(subject=args.subject, limit=args.limit)
            return await redrive(nc.jetstream(), args.service, request)
        finally:
            await nc.drain()

    report = asyncio.run(run())
    sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
