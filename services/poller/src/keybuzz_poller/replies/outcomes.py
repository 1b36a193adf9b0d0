"""What became of a reply, told once: the ``keybuzz_replies_total`` metric and ``message.bounced``.

A reply that does not reach the buyer is told the same way whether the relay refused it
(``sender.py``: ``FAILED``) or the relay bounced it later (``bounces.py``: ``BOUNCED``).
"""

from __future__ import annotations

from keybuzz_shared.events import MessageBounced
from prometheus_client import Counter

from keybuzz_poller.inbound.relays import default_marketplace
from keybuzz_poller.replies.ports import BouncedReply, ClaimedReply

REPLIES = Counter(
    "keybuzz_replies",
    "Replies by the status they reached: QUEUED (accepted from an agent), SENT (relay said 250), "
    "FAILED (5xx or out of retries), BOUNCED (the relay's bounce arrived); RETRIED counts temporary "
    "failures (4xx, relay down) that were scheduled again.",
    ["service", "status"],
)


def count_reply(service: str, status: str, n: int = 1) -> None:
    if n:
        REPLIES.labels(service, status).inc(n)


def not_delivered(
    tenant_id: str,
    reply: ClaimedReply | BouncedReply,
    *,
    status: str,
    reason: str,
    status_code: str | None,
    marketplace: str | None = None,
) -> MessageBounced:
    """``message.bounced`` for a reply that did not reach the buyer: FAILED or BOUNCED."""
    return MessageBounced(
        tenant_id=tenant_id,
        marketplace=marketplace or default_marketplace(),
        ticket_id=reply.ticket_id,
        ticket_message_id=reply.ticket_message_id,
        message_id=reply.message_id,
        order_id=reply.order_id,
        status=status,
        reason=reason,
        status_code=status_code,
    )
