"""What a relay double does with a reply it refuses after taking it: an RFC 3464 delivery
status report in its marketplace's words, sent with a null envelope sender (a bounce is
never bounced) to the reply's envelope sender, retried a while, drained when it stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

import aiosmtplib
import msgspec

if TYPE_CHECKING:
    from keybuzz_sandbox.double_kit.replies import ReplyMail

log = logging.getLogger(__name__)

ATTEMPTS = 4
FIRST_DELAY = 0.5  # seconds, doubled after each failed attempt


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why a relay bounces a reply it took, in its marketplace's words."""

    reason: str  # as the relay's admin lists it
    status: str  # RFC 3463 enhanced status code of the bounce
    diagnostic: str  # the bounce's Diagnostic-Code, after "smtp; "
    explanation: str  # the sentence the seller reads in the bounce


class Mailer(msgspec.Struct, frozen=True, kw_only=True):
    """A relay's mailer-daemon as its bounces name it."""

    sender: str  # the From, mailer-daemon's address (the Message-ID's domain is its)
    subject: str
    mta: str  # the Reporting-MTA
    # What the text says after the refusal's sentence: ``{alias}``, ``{subject}`` and
    # ``{message_id}`` are the refused reply's.
    footer: str
    references: bool = False  # the refused Message-ID in References too


def bounce_report(
    reply: ReplyMail, alias: str, refusal: Refusal, mailer: Mailer, to: str
) -> MIMEMultipart:
    """The report ``mailer`` sends ``to`` (the reply's envelope sender): ``reply`` to
    ``alias`` refused for ``refusal``."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = mailer.sender
    report["To"] = to
    report["Subject"] = mailer.subject
    report["Date"] = formatdate(usegmt=True)
    report["Message-ID"] = make_msgid(domain=parseaddr(mailer.sender)[1].rsplit("@", 1)[-1])
    report["Auto-Submitted"] = "auto-replied"
    report["In-Reply-To"] = reply.message_id
    if mailer.references:
        report["References"] = reply.message_id
    footer = mailer.footer.format(alias=alias, subject=reply.subject, message_id=reply.message_id)
    report.attach(MIMEText(f"{refusal.explanation}\n\n{footer}", "plain", "utf-8"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {mailer.mta}"
    per_message["Arrival-Date"] = format_datetime(datetime.now(UTC))
    per_recipient["Final-Recipient"] = f"rfc822; {alias}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = refusal.status
    per_recipient["Diagnostic-Code"] = f"smtp; {refusal.diagnostic}"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    charset = "us-ascii" if reply.header_block.isascii() else "utf-8"
    report.attach(MIMEText(reply.header_block, "rfc822-headers", charset))
    return report


async def send_bounce(
    report: MIMEMultipart, to: str, target: Callable[[], tuple[str, int]]
) -> bool:
    """Whether ``report`` reached the MX ``target`` gives (asked again at each attempt)."""
    delay = FIRST_DELAY
    for attempt in range(1, ATTEMPTS + 1):
        host, port = target()
        try:
            await aiosmtplib.send(
                report,
                sender="",
                recipients=[to],
                hostname=host,
                port=port,
                start_tls=False,
                timeout=30,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("bounce to %s, attempt %d failed: %s", to, attempt, exc)
            if attempt < ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
            continue
        return True
    return False


class Bounces:
    """The bounces under way, in tasks of the relay's event loop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, sending: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(sending)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float) -> None:
        """Give bounces under way ``grace_seconds`` to go out, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in pending:
                task.cancel()
