"""How a relay double sends the bounce of a reply it refuses after taking it (the report:
``replies.bounce_report``): with a null envelope sender (a bounce is never bounced) to the
reply's envelope sender, retried a while, drained when it stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from email.mime.multipart import MIMEMultipart
from typing import Any

import aiosmtplib

log = logging.getLogger(__name__)

ATTEMPTS = 4
FIRST_DELAY = 0.5  # seconds, doubled after each failed attempt


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
