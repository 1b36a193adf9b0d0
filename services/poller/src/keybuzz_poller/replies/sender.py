"""Sending queued replies through Amazon's relay (SMTP, aiosmtplib), safe with several instances.

Each round claims due replies (``FOR UPDATE SKIP LOCKED``; the claim moves the reply
one lease ahead, so a sender that dies mid-send leaves it for whoever comes after the
lease) and sends each one's stored mail. The outcome is committed afterwards:

- ``250``: ``SENT`` and ``message.sent`` in one unit of work;
- ``5xx``: ``FAILED`` with the relay's reply text, ``message.bounced`` (status FAILED);
- ``4xx``, refused connection, timeout: tried again after an exponential, jittered
  back-off written to ``next_attempt_at`` (the schedule survives a crash), and
  ``FAILED`` after ``REPLY_MAX_ATTEMPTS``.

At least once with the same Message-ID: a crash between the relay's 250 and our commit
sends the same stored bytes again after the lease (docs/POLLER.md, "Replies").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from dataclasses import dataclass

import aiosmtplib
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.events import MessageSent

from keybuzz_poller.replies import store
from keybuzz_poller.replies.outcomes import count_reply, not_delivered
from keybuzz_poller.replies.store import ClaimedReply
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.tickets.responses import refresh_deadlines

log = logging.getLogger(__name__)

# Replies one round sends at once, fewer when their mails pass REPLY_SEND_BATCH_BYTES.
CLAIM_BATCH = 16
IDLE_SECONDS = 1.0  # longest sleep between rounds when nothing wakes the sender


@dataclass(frozen=True)
class Outcome:
    """What the relay made of one attempt."""

    kind: str  # "sent", "refused" (permanent), "temporary"
    detail: str = ""
    code: str | None = None


class ReplySender:
    """One per process: a loop that sends due replies until stopped."""

    def __init__(self, runtime: PollerRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
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
        not sent again after the lease), within one SMTP timeout; then cancel."""
        self._stopping = True
        self._wake.set()
        await self._loop_task.aclose(grace=self.settings.smtp_relay_timeout_seconds + 5)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                sent = await self.send_due()
            except Exception:  # the database is down, …: the next round tries again
                log.warning("reply round failed", exc_info=True)
                sent = 0
            if sent:
                continue  # there may be more due at once
            await self._sleep()

    async def _sleep(self) -> None:
        self._wake.clear()
        wait = IDLE_SECONDS
        with contextlib.suppress(Exception):
            due_in = await store.next_due_in(self.runtime.pool)
            if due_in is not None:
                wait = min(wait, due_in)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.05))

    async def send_due(self) -> int:
        """One round: claim, send, record. The number of replies claimed."""
        claimed = await store.claim_due(
            self.runtime.pool,
            CLAIM_BATCH,
            self.settings.reply_send_batch_bytes,
            self.settings.reply_lease_seconds,
        )
        await asyncio.gather(*(self._send_one(reply) for reply in claimed))
        return len(claimed)

    async def _send_one(self, reply: ClaimedReply) -> None:
        outcome = await self._attempt(reply)
        try:
            await self._record(reply, outcome)
        except Exception:
            # The lease runs out and the reply is taken again: at least once, same bytes.
            log.warning(
                "reply outcome not recorded",
                extra={"ticket_message_id": reply.ticket_message_id, "outcome": outcome.kind},
                exc_info=True,
            )

    async def _attempt(self, reply: ClaimedReply) -> Outcome:
        try:
            response = await relay_send(self.settings, reply)
        except aiosmtplib.SMTPRecipientsRefused as exc:  # one recipient: its own refusal
            refused = exc.recipients[0]
            kind = "refused" if 500 <= refused.code < 600 else "temporary"
            return Outcome(kind, f"{refused.code} {refused.message}", str(refused.code))
        except aiosmtplib.SMTPResponseException as exc:
            kind = "refused" if 500 <= exc.code < 600 else "temporary"
            return Outcome(kind, f"{exc.code} {exc.message}", str(exc.code))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Refused connection, timeout, dropped connection: the relay is down for now.
            where = f"{self.settings.smtp_relay_host}:{self.settings.smtp_relay_port}"
            return Outcome("temporary", f"SMTP relay {where}: {type(exc).__name__}")
        return Outcome("sent", response)

    async def _record(self, reply: ClaimedReply, outcome: Outcome) -> None:
        service = self.runtime.name
        if outcome.kind == "sent":
            await self._sent(reply)
        elif outcome.kind == "refused":
            await self._failed(reply, outcome.detail, outcome.code)
        elif reply.attempts >= self.settings.reply_max_attempts:
            reason = f"gave up after {reply.attempts} attempts; last: {outcome.detail}"
            await self._failed(reply, reason, outcome.code)
        else:
            delay = backoff_delay(
                reply.attempts,
                base=self.settings.reply_retry_base_seconds,
                cap=self.settings.reply_retry_max_seconds,
                jitter=True,
            )
            await store.retry_later(
                self.runtime.pool, reply.ticket_message_id, outcome.detail[:500], delay
            )
            count_reply(service, "RETRIED")
            log.warning(
                "reply not sent, retrying",
                extra={
                    "ticket_message_id": reply.ticket_message_id,
                    "attempts": reply.attempts,
                    "retry_in_seconds": round(delay, 1),
                    "error": outcome.detail,
                },
            )

    async def _sent(self, reply: ClaimedReply) -> None:
        async with self.runtime.unit_of_work() as uow:
            sent_at = await store.mark_sent(uow.conn, reply.ticket_message_id)
            if sent_at is not None:
                await refresh_deadlines(uow.conn, [reply.ticket_id])
                uow.emit(
                    MessageSent(
                        tenant_id=reply.tenant_id,
                        ticket_id=reply.ticket_id,
                        ticket_message_id=reply.ticket_message_id,
                        message_id=reply.message_id,
                        order_id=reply.order_id,
                        sent_at=sent_at,
                    )
                )
        if sent_at is not None:
            count_reply(self.runtime.name, "SENT")
            log.info("reply sent", extra={"ticket_message_id": reply.ticket_message_id})

    async def _failed(self, reply: ClaimedReply, reason: str, code: str | None) -> None:
        reason = reason[:1000]
        async with self.runtime.unit_of_work() as uow:
            changed = await store.mark_failed(uow.conn, reply.ticket_message_id, reason, code)
            if changed:
                # Every delivery outcome recomputes: a FAILED reply leaves the deadline running.
                await refresh_deadlines(uow.conn, [reply.ticket_id])
                uow.emit(
                    not_delivered(
                        reply.tenant_id, reply, status="FAILED", reason=reason, status_code=code
                    )
                )
        if changed:
            count_reply(self.runtime.name, "FAILED")
            log.warning(
                "reply failed",
                extra={"ticket_message_id": reply.ticket_message_id, "reason": reason},
            )


async def relay_send(settings: PollerSettings, reply: ClaimedReply) -> str:
    """Hand the stored mail to the relay; the relay's 250 reply, or an aiosmtplib error."""
    errors, response = await aiosmtplib.send(
        reply.mail,
        sender=reply.envelope_sender,
        recipients=[reply.recipient],
        hostname=settings.smtp_relay_host,
        port=settings.smtp_relay_port,
        username=settings.smtp_relay_username,
        password=settings.smtp_relay_password,
        start_tls=settings.smtp_relay_starttls,
        use_tls=False,
        tls_context=_tls_context(settings) if settings.smtp_relay_starttls else None,
        timeout=settings.smtp_relay_timeout_seconds,
    )
    if errors:  # one recipient: its refusal raised SMTPRecipientsRefused already
        code, message = next(iter(errors.values()))
        raise aiosmtplib.SMTPResponseException(code, message)
    return response


def _tls_context(settings: PollerSettings) -> ssl.SSLContext:
    return _verifying_context(settings.smtp_relay_cacert)


@functools.cache
def _verifying_context(cafile: str | None) -> ssl.SSLContext:
    # Certificate and host name always verified; a private CA only adds trust. Made once:
    # reading the CA file is blocking work.
    return ssl.create_default_context(cafile=cafile)


async def start_reply_sender(runtime: PollerRuntime) -> None:
    """``on_startup``: send queued replies from now on (unless REPLY_SENDER_ENABLED=false)."""
    sender = ReplySender(runtime)
    runtime.provide(sender)
    if runtime.settings.reply_sender_enabled:
        sender.start()


async def stop_reply_sender(runtime: PollerRuntime) -> None:
    sender = runtime.components.pop(ReplySender, None)
    if isinstance(sender, ReplySender):
        await sender.stop()
