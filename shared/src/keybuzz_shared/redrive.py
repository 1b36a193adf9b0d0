"""Replay dead-lettered events to their original subject.

Operators: ``nats req keybuzz.<service>.redrive '{"subject": "tenant.created"}'``
or ``python -m keybuzz_shared.redrive <service> [--subject S] [--limit N]``.

Each dead letter is re-published with ``Nats-Msg-Id`` = ``redrive-<its
dead-letter sequence>`` and then deleted from ``DEADLETTER``: a redrive that
dies half-way and is run again re-publishes nothing twice (JetStream drops the
duplicate within its de-duplication window). A truncated dead letter (its
original was too large to park whole) is replayed from the original stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import msgspec
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from keybuzz_shared.messaging import (
    ORIGINAL_SEQUENCE_HEADER,
    ORIGINAL_STREAM_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    TRUNCATED_HEADER,
    dead_letter_subject,
)
from keybuzz_shared.nats_connection import NatsAccess
from keybuzz_shared.streams import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM

_KEPT_HEADERS = ("traceparent", "tracestate", "KeyBuzz-Event-Type")


class RedriveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject: str | None = None  # only this original subject (e.g. tenant.created)
    limit: int = msgspec.field(default=1000)


class RedriveReport(msgspec.Struct, kw_only=True, rename="camel"):
    redriven: int
    lost: int  # truncated dead letters whose original is gone from its stream: kept
    remaining: int


async def redrive(
    js: JetStreamContext, service: str, request: RedriveRequest | None = None
) -> RedriveReport:
    request = request or RedriveRequest()
    pattern = (
        dead_letter_subject(service, request.subject)
        if request.subject
        else f"{DEAD_LETTER_PREFIX}.{service}.>"
    )
    redriven = lost = 0
    for letter in await _dead_letters(js, pattern, request.limit):
        body = await _original_body(js, letter)
        if body is None:
            lost += 1
            continue
        await js.publish(
            letter.headers[ORIGINAL_SUBJECT_HEADER] if letter.headers else "",
            body,
            headers=_replay_headers(letter),
        )
        await js.delete_msg(DEAD_LETTER_STREAM, letter.metadata.sequence.stream)
        redriven += 1
    remaining = await _count(js, pattern)
    return RedriveReport(redriven=redriven, lost=lost, remaining=remaining)


async def _dead_letters(js: JetStreamContext, pattern: str, limit: int) -> list[Msg]:
    """Up to ``limit`` dead letters on ``pattern``, oldest first (an ephemeral consumer)."""
    sub = await js.pull_subscribe(
        pattern,
        stream=DEAD_LETTER_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
        ),
    )
    found: list[Msg] = []
    try:
        while len(found) < limit:
            try:
                batch = await sub.fetch(min(256, limit - len(found)), timeout=0.5)
            except TimeoutError:  # nothing more (nats-py raises both kinds)
                break
            found += [m for m in batch if m.headers and ORIGINAL_SUBJECT_HEADER in m.headers]
    finally:
        await sub.unsubscribe()
    return found


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


async def _count(js: JetStreamContext, pattern: str) -> int:
    info = await js.stream_info(DEAD_LETTER_STREAM, subjects_filter=pattern)
    return sum((info.state.subjects or {}).values())


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
