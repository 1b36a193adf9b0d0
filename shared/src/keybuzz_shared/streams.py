"""JetStream streams (docs/CONTRACTS.md, "Events"), provisioned idempotently at start-up."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

DEAD_LETTER_PREFIX = "deadletter"
DEAD_LETTER_STREAM = "DEADLETTER"

# One stream per domain, plus the dead-letter stream where undecodable events
# are parked (an operator reads them with `nats stream view DEADLETTER`).
STREAMS: dict[str, list[str]] = {
    "TENANTS": ["tenant.>"],
    "CONNECTIONS": ["connection.>"],
    "MESSAGES": ["message.>"],
    "ORDERS": ["order.>"],
    DEAD_LETTER_STREAM: [f"{DEAD_LETTER_PREFIX}.>"],
}

DUPLICATE_WINDOW_SECONDS = 600.0  # Nats-Msg-Id de-duplication window
_STREAM_NAME_IN_USE = 10058


def stream_config(name: str, subjects: list[str], replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update every stream; safe when several services start at once.

    ``replicas`` (``NATS_STREAM_REPLICAS``) above 1 needs a JetStream cluster; an
    existing stream is scaled to it in place (its messages are kept).
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
            # Another service created it between our look-up and our add.
            info = await js.stream_info(config.name)
    current = info.config
    if (
        sorted(current.subjects or []) != sorted(config.subjects or [])
        or current.duplicate_window != config.duplicate_window
        or current.num_replicas != config.num_replicas
    ):
        await js.update_stream(config)
        log.info("stream updated", extra={"stream": config.name})
