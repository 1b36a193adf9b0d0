"""Helpers for tenant-sync tests: unique ids, polling, JetStream publishing and watching."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from keybuzz_devstack.testing import eventually
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY
from nats.aio.msg import Msg
from nats.js import JetStreamContext

T = TypeVar("T")
INTERNAL = {"X-Internal-Key": DEV_INTERNAL_API_KEY}
TIMEOUT = 10.0


def tenant_id(prefix: str = "t") -> str:
    """Tests share the NATS server and its durable consumers: unique ids keep them apart."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def publish(js: JetStreamContext, subject: str, body: dict[str, Any] | bytes) -> int:
    """Publish like ``nats pub`` (no Nats-Msg-Id header); returns the stream sequence."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    ack = await js.publish(subject, data)
    return ack.seq


async def processed(js: JetStreamContext, durable: str, seq: int, stream: str = "TENANTS") -> None:
    """Wait until the service's durable consumer has acknowledged stream sequence ``seq``."""

    async def acked() -> bool:
        info = await js.consumer_info(stream, durable)
        return info.ack_floor.stream_seq >= seq and not info.num_ack_pending

    await eventually(acked)


class Watch:
    """Messages arriving on a subject from now on (an ephemeral JetStream consumer)."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub

    async def next(self, match: Callable[[Msg], bool], within: float = TIMEOUT) -> Msg:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError("no matching message on JetStream")
            msg = await self.sub.next_msg(timeout=remaining)
            if match(msg):
                return msg

    async def for_tenant(self, tenant: str) -> dict[str, Any]:
        msg = await self.next(lambda m: json.loads(m.data).get("tenantId") == tenant)
        return json.loads(msg.data)
