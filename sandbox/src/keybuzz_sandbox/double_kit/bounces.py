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
from typing import Any

import aiosmtplib
import msgspec

log = logging.getLogger(__name__)

ATTEMPTS = 4
FIRST_DELAY = 0.5  # seconds, doubled after each failed attempt


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    """The refused reply as its bounce names it."""

    recipient: str  # the address the reply was refused for
    message_id: str  # the reply's Message-ID ("": none, no In-Reply-To)
    headers: str  # the reply's headers, as received
    text: str  # the sentence the sender reads
    status: str  # RFC 3463 enhanced status code
    diagnostic: str  # the Diagnostic-Code, after "smtp; "


def bounce_report(
    refused: Refused, *, sender: str, to: str, subject: str, mta: str, references: bool = False
) -> MIMEMultipart:
    """The report from ``sender`` (mailer-daemon's address), its Message-ID at ``mta``'s
    domain; ``references``: the refused Message-ID in References too."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = sender
    report["To"] = to
    report["Subject"] = subject
    report["Date"] = formatdate(usegmt=True)
    report["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rsplit("@", 1)[-1])
    report["Auto-Submitted"] = "auto-replied"
    if refused.message_id:
        report["In-Reply-To"] = refused.message_id
        if references:
            report["References"] = refused.message_id
    report.attach(MIMEText(refused.text, "plain", "utf-8"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {mta}"
    per_message["Arrival-Date"] = format_datetime(datetime.now(UTC))
    per_recipient["Final-Recipient"] = f"rfc822; {refused.recipient}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = refused.status
    per_recipient["Diagnostic-Code"] = f"smtp; {refused.diagnostic}"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    charset = "us-ascii" if refused.headers.isascii() else "utf-8"
    report.attach(MIMEText(refused.headers, "rfc822-headers", charset))
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
