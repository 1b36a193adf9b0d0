"""JetStream streams (docs/CONTRACTS.md, "Events"): provisioned once, checked by every service.

Only provisioning creates or changes a stream, as the ``provisioner`` NATS user
(``nats_access.py``): ``python -m keybuzz_shared.streams provision`` in the
deployment's start-up Job, the dev stack's bootstrap and the tests' fixtures. A
service only looks its streams up (``STREAM.INFO``): it waits for them at start-up
and its ``/ready`` says when one is missing or not as provisioned (``problem``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import nats
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_fixed,
)

from keybuzz_shared.nats_connection import NatsAccess

log = logging.getLogger(__name__)

DEAD_LETTER_PREFIX = "deadletter"
DEAD_LETTER_STREAM = "DEADLETTER"
# Replays of a consumer's dead letters: ``redrive.<durable>.<subject>``, stored in the
# subject's own stream and taken by that consumer only (keybuzz_shared.redrive).
REDRIVE_PREFIX = "redrive"


def _domain(prefix: str) -> list[str]:
    """A domain's events, and the replays of its dead letters (the first subject names it)."""
    return [f"{prefix}.>", f"{REDRIVE_PREFIX}.*.{prefix}.>"]


# One stream per domain, plus the dead-letter stream where undecodable events
# are parked (an operator reads them with `nats stream view DEADLETTER`).
STREAMS: dict[str, list[str]] = {
    "TENANTS": _domain("tenant"),
    "CONNECTIONS": _domain("connection"),
    "MESSAGES": _domain("message"),
    "TICKETS": _domain("ticket"),
    "ORDERS": _domain("order"),
    DEAD_LETTER_STREAM: [f"{DEAD_LETTER_PREFIX}.>"],
}


def stream_for(subject: str) -> str:
    prefix = original_subject(subject).split(".", 1)[0]
    for name, subjects in STREAMS.items():
        if subjects[0].split(".", 1)[0] == prefix:  # the first names the domain
            return name
    raise ValueError(f"no stream holds subject {subject!r}")


def dead_letter_subject(service: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}.{subject}"


def redrive_subject(durable: str, subject: str) -> str:
    """Where a replayed dead letter of ``durable`` goes: only that consumer takes it."""
    return f"{REDRIVE_PREFIX}.{durable}.{subject}"


def redrive_consumer(service: str, subject: str) -> str:
    """The consumer on DEADLETTER through which ``service`` reads its letters of ``subject``."""
    return f"{service}-redrive-{subject.replace('.', '-')}"


def original_subject(subject: str) -> str:
    """``redrive.<durable>.tenant.created`` → ``tenant.created``; others unchanged."""
    if subject.startswith(f"{REDRIVE_PREFIX}."):
        return subject.split(".", 2)[2]
    return subject


DUPLICATE_WINDOW_SECONDS = 600.0  # Nats-Msg-Id de-duplication window
_STREAM_NAME_IN_USE = 10058


class StreamSealed(Exception):
    """A sealed stream takes no message again and cannot be unsealed (NATS error 10052)."""


def stream_config(name: str, subjects: list[str], replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create every stream, or put it back as provisioned; safe when run twice at once.

    ``replicas`` (``NATS_STREAM_REPLICAS``) above 1 needs a JetStream cluster; an
    existing stream is scaled to it in place (its messages are kept). Limits someone
    set on a stream (``max_msgs``…) are lifted; a sealed stream raises ``StreamSealed``.
    """
    for name, subjects in STREAMS.items():
        await _ensure_stream(js, stream_config(name, subjects, replicas))


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("stream created", extra={"stream": config.name})
            return
        except BadRequestError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            # Another provisioning run created it between our look-up and our add.
            info = await js.stream_info(config.name)
    if info.config.sealed:
        raise StreamSealed(f"stream {config.name} is sealed: it takes no message again")
    if problem(info, config.num_replicas or 1) is not None:
        await js.update_stream(config)
        log.info("stream updated", extra={"stream": config.name})


def problem(info: StreamInfo, replicas: int | None = None) -> str | None:
    """What differs from the provisioned stream and stops or loses writes (None: nothing)."""
    config, name = info.config, info.config.name or ""
    expected = stream_config(name, STREAMS.get(name, []), replicas or 1)
    if config.sealed:
        return f"stream {name} is sealed and refuses every write"
    if sorted(config.subjects or []) != sorted(expected.subjects or []):
        return f"stream {name} takes {config.subjects}, not {expected.subjects}"
    limits = {
        "max_msgs": config.max_msgs,
        "max_bytes": config.max_bytes,
        "max_msgs_per_subject": config.max_msgs_per_subject,
        "max_msg_size": config.max_msg_size,
        "max_age": config.max_age,
    }
    for limit, value in limits.items():
        if value not in (None, -1, 0):  # unlimited
            return f"stream {name} has {limit}={value}: it drops or refuses messages"
    if config.duplicate_window != expected.duplicate_window:
        return f"stream {name} de-duplicates over {config.duplicate_window}s"
    if replicas is not None and config.num_replicas != replicas:
        return f"stream {name} has {config.num_replicas} replicas, not {replicas}"
    return None


async def wait_for_streams(js: JetStreamContext, names: Iterable[str], every: float = 1.0) -> None:
    """Until each stream exists and takes this release's subjects (a release adding a
    subject deploys its provisioning beside the services; no timeout here)."""
    waiting = sorted(set(names))
    logged = False
    while waiting:
        missing = []
        for name in waiting:
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                missing.append(name)
                continue
            if sorted(info.config.subjects or []) != sorted(STREAMS.get(name, [])):
                missing.append(name)
        if missing and not logged:
            log.warning("waiting for streams to be provisioned", extra={"streams": missing})
            logged = True
        waiting = missing
        if waiting:
            await asyncio.sleep(every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create or restore KeyBuzz's JetStream streams.")
    parser.add_argument("action", choices=["provision"])
    parser.add_argument("--nats-url", default=None, help="default: $NATS_URL or local")
    parser.add_argument("--replicas", type=int, default=None, help="default: $NATS_STREAM_REPLICAS")
    args = parser.parse_args(argv)
    access = NatsAccess(
        os.environ.get("NATS_USER"),
        os.environ.get("NATS_PASSWORD"),
        os.environ.get("NATS_CREDS"),
        os.environ.get("NATS_CA"),
    )
    url = args.nats_url or os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    servers = [u.strip() for u in url.split(",") if u.strip()]  # a cluster's list
    replicas = args.replicas or int(os.environ.get("NATS_STREAM_REPLICAS", "1"))
    try:
        asyncio.run(provision(servers, access.options(), replicas))
    except StreamSealed as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except UNANSWERED as exc:
        sys.stderr.write(
            f"error: JetStream did not answer for {PROVISION_PATIENCE_SECONDS:.0f} s: {exc!r}\n"
        )
        return 1
    sys.stdout.write(f"streams provisioned: {', '.join(STREAMS)}\n")
    return 0


# A replicated stream's creation is answered once its group has a leader: a cluster just
# formed, on a busy machine, took longer than nats-py's 5 s for one answer.
PROVISION_ANSWER_SECONDS = 10.0
PROVISION_PATIENCE_SECONDS = 120.0
# What a cluster without a leader does to an API request: no answer, none listening, or 503.
UNANSWERED = (nats.errors.TimeoutError, nats.errors.NoRespondersError, ServiceUnavailableError)


async def provision(
    servers: str | list[str], options: Mapping[str, Any], replicas: int = 1
) -> None:
    """Connect (waiting for the server), provision every stream, disconnect."""
    nc = await nats.connect(servers, max_reconnect_attempts=-1, **options)
    try:
        await ensure_streams_patiently(nc.jetstream(timeout=PROVISION_ANSWER_SECONDS), replicas)
    finally:
        await nc.drain()


async def ensure_streams_patiently(
    js: JetStreamContext, replicas: int = 1, patience: float = PROVISION_PATIENCE_SECONDS
) -> None:
    """``ensure_streams``, begun again while JetStream leaves a request unanswered.

    A cluster electing its meta leader or a stream's leader drops or refuses API requests:
    a stream creation a just-formed cluster never answered was seen once in a full run on a
    busy machine. Every step of ``ensure_streams`` is safe to redo; past ``patience``
    seconds the last error is raised.
    """
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(UNANSWERED),
        wait=wait_fixed(1),
        stop=stop_after_delay(patience),
        before_sleep=_log_unanswered,
        reraise=True,
    ):
        with attempt:
            await ensure_streams(js, replicas)


def _log_unanswered(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("JetStream did not answer: provisioning again", extra={"error": repr(error)})


if __name__ == "__main__":
    raise SystemExit(main())
