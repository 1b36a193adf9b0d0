"""Sending queued replies through a marketplace's mail relay or its API, safe with several
instances.

Each round claims due replies (the claim moves the reply one lease ahead, so a sender that
dies mid-send leaves it for whoever comes after the lease) and hands each one to its
channel: the API of its marketplace when ``ports.apis`` has one (``ports.send_through_api``), else
its stored mail to the relay (``ports.Relay``; over SMTP: ``smtp_relay.py``). The outcome
is committed afterwards:

- sent (``250``, or the marketplace's OK): ``SENT`` and ``message.sent`` in one unit of work;
- refused (``5xx``, the marketplace's refusal): ``FAILED`` with the reply text or the
  marketplace's reason, ``message.bounced`` (status FAILED);
- temporary (``4xx``, refused connection, timeout, the marketplace down) or unknown (the
  marketplace's answer lost): tried again after an exponential, jittered back-off written
  to ``next_attempt_at`` (the schedule survives a crash), and ``FAILED`` after
  ``REPLY_MAX_ATTEMPTS``.

Mail goes at least once with the same Message-ID: a crash between the relay's 250 and our
commit sends the same stored bytes again after the lease (docs/POLLER.md, "Replies"). A
marketplace's API reply goes at most once: after an unknown outcome or such a crash, the
thread is read back before anything is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.connectors.registry import served
from keybuzz_shared.events import MessageSent
from keybuzz_shared.redaction import remote_excerpt, secret_scope

from keybuzz_poller.replies.outcomes import count_reply, not_delivered
from keybuzz_poller.replies.ports import (
    ApiRequest,
    ClaimedReply,
    MarketplaceReplies,
    Outcome,
    RepliesPorts,
)
from keybuzz_poller.shops.ports import ApiAttempt
from keybuzz_poller.tickets.intake import intake_of

log = logging.getLogger(__name__)

# Replies one round sends at once, fewer when their mails pass REPLY_SEND_BATCH_BYTES.
CLAIM_BATCH = 16
IDLE_SECONDS = 1.0  # longest sleep between rounds when nothing wakes the sender


async def send_due(ports: RepliesPorts) -> int:
    """One round: claim, send, record. The number of replies claimed."""
    config = ports.config
    claimed = await ports.replies.claim_due(
        CLAIM_BATCH, config.send_batch_bytes, config.lease_seconds
    )
    await asyncio.gather(*(_send_one(ports, reply) for reply in claimed))
    return len(claimed)


async def _send_one(ports: RepliesPorts, reply: ClaimedReply) -> None:
    # The shop's key, read for the attempt, is masked in any form in what it logs and records.
    with secret_scope():
        await _send_one_in_scope(ports, reply)


async def _send_one_in_scope(ports: RepliesPorts, reply: ClaimedReply) -> None:
    api = ports.apis.get(reply.marketplace)
    if reply.marketplace is not None and not served(reply.marketplace):
        # Queued through its API before it was removed: never sent another way; retried.
        outcome = Outcome("temporary", f"marketplace {reply.marketplace} is not served now")
    elif api is not None:
        # Raising (a bug, the process stopping) leaves the reply unconfirmed: read back.
        outcome = await _through_api(ports, api, reply)
    else:
        outcome = await ports.relay.send(reply)
    try:
        await record(ports, reply, outcome)
    except Exception:
        # The lease runs out and the reply is taken again: at least once, same bytes.
        log.warning(
            "reply outcome not recorded",
            extra={"ticket_message_id": reply.ticket_message_id, "outcome": outcome.kind},
            exc_info=True,
        )


async def _through_api(
    ports: RepliesPorts, api: MarketplaceReplies, reply: ClaimedReply
) -> Outcome:
    """One attempt through the marketplace's API (its port), with the request as queued; a
    refused shop key asks for the shop to be connected again."""
    attempt = ApiAttempt(
        tenant_id=reply.tenant_id,
        marketplace=reply.marketplace,
        reply=msgspec.json.decode(reply.mail, type=ApiRequest).reply,
        queued_at=reply.created_at,
        in_doubt=reply.unconfirmed,
    )
    done = await ports.send_through_api(api, attempt)
    if done.key_refused is not None:
        refused = remote_excerpt(done.key_refused, 500)
        await ports.key_refused(reply.tenant_id, reply.marketplace, refused)
    return Outcome(done.kind, remote_excerpt(done.detail, 500), done.code)


async def record(ports: RepliesPorts, reply: ClaimedReply, outcome: Outcome) -> None:
    """What an attempt's outcome makes of the reply: SENT, FAILED, or tried again later."""
    config = ports.config
    if outcome.kind == "sent":
        await _sent(ports, reply)
    elif outcome.kind == "refused":
        await _failed(ports, reply, outcome.detail, outcome.code)
    elif outcome.kind == "undecided":  # may have been sent: an agent decides
        await _failed(ports, reply, outcome.detail, outcome.code, in_doubt=True)
    elif reply.attempts >= config.max_attempts:
        reason = f"gave up after {reply.attempts} attempts; last: {outcome.detail}"
        await _failed(ports, reply, reason, outcome.code, outcome.kind == "unknown")
    else:
        delay = backoff_delay(
            reply.attempts,
            base=config.retry_base_seconds,
            cap=config.retry_max_seconds,
            jitter=True,
        )
        await ports.replies.retry_later(
            reply.ticket_message_id, outcome.detail[:500], delay, outcome.kind == "unknown"
        )
        count_reply(ports.service, "RETRIED")
        log.warning(
            "reply not sent, retrying",
            extra={
                "ticket_message_id": reply.ticket_message_id,
                "attempts": reply.attempts,
                "retry_in_seconds": round(delay, 1),
                "error": outcome.detail,
            },
        )


async def _sent(ports: RepliesPorts, reply: ClaimedReply) -> None:
    async with ports.unit_of_work() as unit:
        touched = intake_of(unit, unit.store.tickets)
        sent_at = await unit.store.replies.mark_sent(reply.ticket_message_id)
        if sent_at is not None:
            touched.touch([reply.ticket_id])
            unit.emit(
                MessageSent(
                    tenant_id=reply.tenant_id,
                    marketplace=reply.marketplace,
                    ticket_id=reply.ticket_id,
                    ticket_message_id=reply.ticket_message_id,
                    message_id=reply.message_id,
                    order_id=reply.order_id,
                    sent_at=sent_at,
                )
            )
    if sent_at is not None:
        count_reply(ports.service, "SENT")
        log.info("reply sent", extra={"ticket_message_id": reply.ticket_message_id})


async def _failed(
    ports: RepliesPorts, reply: ClaimedReply, reason: str, code: str | None, in_doubt: bool = False
) -> None:
    reason = reason[:1000]
    async with ports.unit_of_work() as unit:
        touched = intake_of(unit, unit.store.tickets)
        replies = unit.store.replies
        changed = await replies.mark_failed(reply.ticket_message_id, reason, code, in_doubt)
        if changed:
            # Every delivery outcome recomputes: a FAILED reply leaves the deadline running.
            touched.touch([reply.ticket_id])
            unit.emit(
                not_delivered(
                    reply.tenant_id,
                    reply,
                    status="FAILED",
                    reason=reason,
                    status_code=code,
                    marketplace=reply.marketplace,
                )
            )
    if changed:
        count_reply(ports.service, "FAILED")
        log.warning(
            "reply failed",
            extra={"ticket_message_id": reply.ticket_message_id, "reason": reason},
        )


class ReplySender:
    """One per process: a loop that sends due replies until stopped."""

    def __init__(self, ports: RepliesPorts) -> None:
        self.ports = ports
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task = BackgroundLoop(self._loop, "reply-sender")

    def start(self) -> None:
        self._loop_task.start()

    def wake(self) -> None:
        """A reply was queued: send it now rather than at the next round."""
        self._wake.set()

    async def stop(self) -> None:
        """Let the round in flight record its outcomes (a mail the relay took is marked SENT,
        not sent again after the lease), within one relay timeout; then cancel."""
        self._stopping = True
        self._wake.set()
        await self._loop_task.aclose(grace=self.ports.config.relay_timeout_seconds + 5)

    async def _loop(self) -> None:
        """Each round asks when the next queued reply is due and claims only when one is:
        an idle round is one statement (``next_due_in``), not a claim that finds nothing
        as well."""
        while not self._stopping:
            self._wake.clear()  # before the round: a reply queued during it wakes the next
            try:
                due_in = await self.ports.replies.next_due_in()
                due = due_in is not None and due_in <= 0
                sent = await send_due(self.ports) if due else 0
            except Exception:  # the database is down, …: the next round tries again
                log.warning("reply round failed", exc_info=True)
                due_in, sent = None, 0
            if sent:
                continue  # there may be more due at once
            wait = IDLE_SECONDS if due_in is None else min(IDLE_SECONDS, due_in)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.05))
