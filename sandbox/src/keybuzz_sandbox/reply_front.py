"""The sandbox's reply front: the development stack's outbound relay for sellers' replies.

The poller hands every reply to one SMTP relay (``SMTP_RELAY_HOST:SMTP_RELAY_PORT``); in
production that is an MTA, which delivers by the recipient's domain. The front does so
among the doubles: each relay double declares the domains it takes replies for and where
it listens (its ``Double``'s ``reply_domains`` and ``reply_relay_at``), and the front
speaks to that double for the session's mail, command by command, answering with the
double's own answers. What the front answers itself:

- a recipient domain no double declares: ``550 5.1.2`` at RCPT (refused for good, never
  taken and dropped);
- a recipient of another double than the mail's first one: ``452 4.5.3`` (the client sends
  it in a mail of its own, as RFC 5321 lets a server ask);
- a double not serving, not answering or dropping the connection: ``451 4.4.x`` (try again
  later), as an MTA whose next hop is down.

Nothing goes through it anonymously: a client authenticates (AUTH PLAIN or LOGIN) with the
sandbox's ``reply_front_login`` before ``MAIL`` (``530`` before, ``535`` for a wrong login),
and without a login configured the front does not serve. No TLS (the development stack has
no certificate to offer), so the password crosses the loopback interface only: the settings
refuse any other address for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from litestar import Response, get

from .answers import json_answer
from .config import SmtpLogin
from .double_entry import Double
from .doubles import reply_relays
from .sandbox import Sandbox
from .smtp_servers import stop_taking_mail

log = logging.getLogger(__name__)

# As large as the largest a relay double takes: the double refuses what it would not take.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
ONWARD_TIMEOUT_SECONDS = 30.0
WILDCARD_HOSTS = ("", "0.0.0.0", "::")
# aiosmtpd's built-in mechanisms: both carry the user and password as given.
AUTH_MECHANISMS = ("LOGIN", "PLAIN")


@dataclass
class _Onward:
    """The session with the double that takes the current mail's recipients."""

    double: Double
    client: aiosmtplib.SMTP


def _answer(code: int, message: str) -> str:
    """A double's answer as the front repeats it, on one line."""
    return f"{code} {' '.join(message.split())}"


def _reachable(host: str) -> str:
    """Where to connect to a relay listening on ``host`` (a wildcard: this machine)."""
    return "127.0.0.1" if host in WILDCARD_HOSTS else host


class FrontHandler:
    """aiosmtpd hooks: RCPT finds the recipient's double and opens the mail there; DATA
    hands the content on; RSET and the session's end close what was opened."""

    def __init__(self, sandbox: Sandbox, relays: dict[str, Double]) -> None:
        self._sandbox = sandbox
        self._relays = relays
        self._onward: dict[Session, _Onward] = {}

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        double = self._relays.get(domain)
        if double is None:
            return f"550 5.1.2 Recipient domain {domain} is not served: no relay takes its mail"
        onward = self._onward.get(session)
        if onward is not None and onward.double is not double:
            return "452 4.5.3 Recipients of another relay: send them in a mail of their own"
        if onward is None:
            opened = await self._open(double, domain, envelope)
            if isinstance(opened, str):
                return opened
            onward = self._onward[session] = opened
        try:
            response = await onward.client.rcpt(address, options=options)
        except aiosmtplib.SMTPResponseException as exc:  # the double's refusal, repeated
            return _answer(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self.forget(session)
            return f"451 4.4.2 The relay for {domain} dropped the connection: try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return _answer(response.code, response.message)

    async def _open(self, double: Double, domain: str, envelope: Envelope) -> _Onward | str:
        """A session with ``double``'s relay with the mail's sender given, or the answer
        saying why not."""
        where = double.reply_relay(self._sandbox)
        if where is None:
            return f"451 4.4.1 The relay for {domain} is not serving: try again later"
        client = aiosmtplib.SMTP(
            hostname=_reachable(where[0]),
            port=where[1],
            timeout=ONWARD_TIMEOUT_SECONDS,
            use_tls=False,
            start_tls=False,
        )
        sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        try:
            await client.connect()
            await client.mail(sender, options=envelope.mail_options)
        except aiosmtplib.SMTPResponseException as exc:  # the double's refusal, repeated
            client.close()
            return _answer(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            log.warning("relay for %s at %s:%d: %s", domain, *where, type(exc).__name__)
            return f"451 4.4.1 The relay for {domain} does not answer: try again later"
        return _Onward(double, client)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        onward = self._onward.pop(session, None)
        if onward is None:  # RCPT accepted a recipient, so it opened one: cannot happen
            return "451 4.3.0 No relay session for this mail: try again later"
        try:
            response = await onward.client.data(envelope.original_content or b"")
        except aiosmtplib.SMTPResponseException as exc:
            return _answer(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return "451 4.4.2 The relay dropped the connection during DATA: try again later"
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await onward.client.quit()
            onward.client.close()
        return _answer(response.code, response.message)

    async def handle_RSET(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.forget(session)
        return "250 OK"

    def forget(self, session: Session) -> None:
        """Close the session's onward connection, if it has one."""
        onward = self._onward.pop(session, None)
        if onward is not None:
            onward.client.close()


class FrontLogin:
    """aiosmtpd's authenticator: the one login the front takes."""

    def __init__(self, login: SmtpLogin) -> None:
        self._username = login.username.encode()
        self._password = login.password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        given = auth_data if isinstance(auth_data, LoginPassword) else LoginPassword(b"", b"")
        # Both compared, in constant time, whichever is wrong: a refusal's timing does not
        # tell which one was.
        same_user = hmac.compare_digest(given.login, self._username)
        same_password = hmac.compare_digest(given.password, self._password)
        if same_user and same_password:
            # The user only: aiosmtpd keeps this in the session and logs the result.
            return AuthResult(success=True, auth_data=given.login)
        log.warning("reply front: AUTH %s refused for %s", mechanism, session.peer)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8


class _FrontSMTP(SMTP):
    """aiosmtpd's protocol, requiring AUTH before a mail and closing the session's onward
    connection when the client goes."""

    def __init__(self, handler: FrontHandler, login: SmtpLogin, **kwargs: Any) -> None:
        # AUTH offered without TLS: the configuration keeps the front on a loopback address.
        super().__init__(handler, authenticator=FrontLogin(login), auth_require_tls=False, **kwargs)
        self._front = handler

    async def check_auth_needed(self, caller_method: str) -> bool:
        """``530`` to MAIL, RCPT, DATA, VRFY and HELP before AUTH. aiosmtpd's own
        ``auth_required`` does the same and warns on every connection that TLS is not
        required."""
        assert self.session is not None
        if self.session.authenticated:
            return False
        await self.push("530 5.7.0 Authentication required")
        return True

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is not None:
            self._front.forget(self.session)
        super().connection_lost(error)


@dataclass
class ReplyFront:
    """The front of one sandbox: where it listens once it serves."""

    sandbox: Sandbox
    port: int | None = None  # bound, once it serves
    relays: dict[str, Double] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.sandbox.config.reply_front_host

    def described(self) -> dict[str, Any]:
        """Where it listens, who may send (never the password) and where it sends each
        domain's replies now."""
        by_double: dict[str, list[str]] = {}
        for domain, double in sorted(self.relays.items()):
            by_double.setdefault(double.name, []).append(domain)
        relays = []
        for name, domains in by_double.items():
            where = self.relays[domains[0]].reply_relay(self.sandbox)
            relays.append(
                {
                    "double": name,
                    "domains": domains,
                    "host": where[0] if where else None,
                    "port": where[1] if where else None,
                }
            )
        login = self.sandbox.config.reply_front_login
        auth = (
            None
            if login is None
            else {"mechanisms": list(AUTH_MECHANISMS), "username": login.username}
        )
        return {"host": self.host, "port": self.port, "auth": auth, "relays": relays}

    @contextlib.asynccontextmanager
    async def serving(self, _app: Any = None) -> AsyncIterator[None]:
        """The front (SMTP) while the sandbox's app runs (one of its lifespans)."""
        self.relays = reply_relays()
        login = self.sandbox.config.reply_front_login
        if login is None:
            log.info("reply front not served: no login for it (SANDBOX_REPLY_FRONT_PASSWORD)")
            yield
            return
        handler = FrontHandler(self.sandbox, self.relays)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _FrontSMTP(
                handler,
                login,
                data_size_limit=MAX_MESSAGE_BYTES,
                hostname="reply-front.sandbox.keybuzz.test",
                ident="KeyBuzz sandbox reply front",
            ),
            host=self.host,
            port=self.sandbox.config.reply_front_port,
        )
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("reply front on %s:%d for %s", self.host, self.port, ", ".join(self.relays))
        try:
            yield
        finally:
            self.port = None
            stop_taking_mail(server)
            await server.wait_closed()


def reply_front_routes(front: ReplyFront) -> list[Any]:
    """``GET /_sandbox/reply-front``: where the front listens (port null until it serves,
    and without a login), its AUTH (mechanisms and user, null without a login; never the
    password) and where each double's domains go now (a double not serving: null)."""

    @get("/reply-front")
    async def described() -> Response[bytes]:
        return json_answer(front.described())

    return [described]
