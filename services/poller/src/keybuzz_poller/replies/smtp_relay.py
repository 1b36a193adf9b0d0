"""The mail relay over SMTP (aiosmtplib): ``ports.Relay``, each attempt's reply made an ``Outcome``.

``250``: sent; ``5xx``: refused (permanent); ``4xx``, a refused connection, a timeout, a
dropped connection: temporary. TLS (STARTTLS) always verifies the relay's certificate and
host name; a private CA only adds trust.
"""

from __future__ import annotations

import functools
import ssl

import aiosmtplib

from keybuzz_poller.replies.ports import ClaimedReply, Outcome
from keybuzz_poller.settings import PollerSettings


class SmtpRelay:
    def __init__(self, settings: PollerSettings) -> None:
        self.settings = settings

    async def send(self, reply: ClaimedReply) -> Outcome:
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
