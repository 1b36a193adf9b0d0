"""The sandbox's reply front, real SMTP over sockets: a reply sent to the front reaches the
relay double that declares its recipient's domain (seen on that double's admin endpoints,
over HTTP); the double's own answers reach the sender; an undeclared domain is refused for
good (5xx), a double not serving or stopped gives a temporary refusal (4xx); nothing goes
through without the front's login (530 before AUTH, 535 for a wrong one), and its password
shows in neither the sandbox's log nor its admin answer. One sandbox for the module, with a
spare relay double registered beside the installed ones: its relay is an SMTP server of the
test's own, started and stopped at will."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from keybuzz_devstack import infra
from keybuzz_sandbox import SandboxConfig, doubles
from keybuzz_sandbox.config import SmtpLogin
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.sandbox import Sandbox
from keybuzz_sandbox.testing import running_sandbox

# One loop for the module's sandbox and its tests, whichever configuration runs them.
pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


def _amazon_settings(**fields: object) -> object:
    """Amazon's relay double's settings, found as the sandbox finds them (by entry point)."""
    settings = doubles.doubles()["amazon"].settings
    assert settings is not None
    return settings(**fields)


INBOUND = "relay.tenant-front.fr.abc123@inbound.keybuzz.test"
MANOMANO_BUYER_DOMAIN = "contact.manomano.com"
AMAZON_FR_SELLER = "A12BCIS2R7HD4D"
SPARE_DOMAIN = "replies.spare.example"
TIMEOUT = 20.0


def spare_relay_at(sandbox: Sandbox) -> tuple[str, int] | None:
    """Where the spare double's relay listens: where the test put it, if it did."""
    where: tuple[str, int] | None = sandbox.parts.get("spare")
    return where


SPARE = Double(
    "spare",
    lambda url: {},
    reply_domains=(SPARE_DOMAIN,),
    reply_relay_at=f"{__name__}:spare_relay_at",
)


@dataclass
class Receiver:
    """An SMTP server of the test's own: the tenant's MX, or the spare double's relay."""

    port: int = 0
    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        message = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK: taken"


def started(receiver: Receiver) -> Controller:
    controller = Controller(receiver, hostname="127.0.0.1", port=infra.free_port())
    controller.start()
    receiver.port = controller.port
    return controller


LOGIN = SmtpLogin.generated()


@dataclass
class Front:
    admin: httpx.AsyncClient
    sandbox: Sandbox
    port: int
    mx: Receiver

    async def send(
        self,
        to: list[str],
        *,
        sender: str = "service-client@vendeur.example",
        text: str = "",
        login: SmtpLogin | None = LOGIN,
    ) -> tuple[dict[str, Any], EmailMessage]:
        """A reply through the front as ``login`` (None: without AUTH): (the refused
        recipients' answers, the mail)."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(to)
        message["Subject"] = "Re: votre commande"
        message["Message-ID"] = make_msgid(domain="inbound.keybuzz.test")
        message.set_content(text or f"Bonjour, votre colis part demain ({uuid.uuid4().hex[:6]}).")
        refused, _ = await aiosmtplib.send(
            message,
            sender=INBOUND,
            recipients=to,
            hostname="127.0.0.1",
            port=self.port,
            start_tls=False,
            timeout=TIMEOUT,
            username=login.username if login else None,
            password=login.password if login else None,
        )
        return dict(refused), message

    async def refusal(self, to: str) -> tuple[int, str]:
        """The front's answer to a reply for ``to`` it refuses at RCPT."""
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await self.send([to])
        [answer] = refused.value.recipients
        return answer.code, answer.message

    async def json(self, path: str) -> Any:
        answer = await self.admin.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def mx() -> Iterator[Receiver]:
    receiver = Receiver()
    controller = started(receiver)
    yield receiver
    controller.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def front(mx: Receiver) -> AsyncIterator[Front]:
    config = SandboxConfig(
        time_scale=60,
        reply_front_port=0,
        reply_front_login=LOGIN,
        doubles=(_amazon_settings(reply_smtp_port=0, smtp_port=mx.port, bench_orders=300),),
    )
    seen: list[Sandbox] = []
    with doubles.registered(SPARE):
        async with running_sandbox(config, seen=seen, lifespan=True) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as admin:
                port = (await admin.get("/_sandbox/reply-front")).json()["port"]
                yield Front(admin, seen[0], int(port), mx)


async def test_a_reply_to_a_manomano_alias_lands_on_the_manomano_double(front: Front) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    refused, sent = await front.send([alias])
    assert refused == {}
    thread = await front.json(f"/_sandbox/manomano/threads/{alias}")
    assert [r["messageId"] for r in thread["replies"]] == [sent["Message-ID"]]


async def test_a_reply_to_an_amazon_alias_lands_on_the_amazon_double(front: Front) -> None:
    body = {"sellingPartnerId": AMAZON_FR_SELLER, "to": INBOUND, "smtpPort": front.mx.port}
    answer = await front.admin.post("/_sandbox/messages", json=body)
    assert answer.status_code == 200, answer.text
    alias = parseaddr(answer.json()["sent"][0]["sender"])[1].lower()
    sellers = await front.json("/_sandbox/sellers")
    registered = next(s for s in sellers if s["sellingPartnerId"] == AMAZON_FR_SELLER)
    refused, sent = await front.send([alias], sender=registered["registeredEmail"])
    assert refused == {}
    inbox = await front.json(f"/_sandbox/buyers/{alias}/inbox")
    assert [m["messageId"] for m in inbox["messages"]] == [sent["Message-ID"]]


async def test_the_relay_doubles_own_refusal_reaches_the_sender(front: Front) -> None:
    code, message = await front.refusal(f"nobody-{uuid.uuid4().hex[:8]}@marketplace.amazon.fr")
    assert (code, message) == (550, "5.1.1 Recipient address rejected: unknown buyer address")


async def test_a_recipient_domain_no_double_declares_is_refused_for_good(front: Front) -> None:
    code, message = await front.refusal("buyer@marketplace.nowhere.example")
    assert code == 550 and message.startswith("5.1.2 ")
    assert "marketplace.nowhere.example" in message


async def test_a_relay_double_that_is_down_gives_a_temporary_refusal(front: Front) -> None:
    alias = f"buyer-{uuid.uuid4().hex[:8]}@{SPARE_DOMAIN}"
    code, message = await front.refusal(alias)  # declared, not serving
    assert code == 451 and message.startswith("4.4.1 ")
    relay = Receiver()
    controller = started(relay)
    front.sandbox.parts["spare"] = ("127.0.0.1", relay.port)
    try:
        refused, sent = await front.send([alias])
        assert refused == {} and [m["Message-ID"] for _, m in relay.mails] == [sent["Message-ID"]]
    finally:
        controller.stop()
    code, message = await front.refusal(alias)  # stopped: nothing listens there now
    assert code == 451 and message.startswith("4.4.1 ")
    assert len(relay.mails) == 1


async def test_recipients_of_two_relays_go_in_a_mail_each(front: Front) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    other = f"buyer-{uuid.uuid4().hex[:8]}@{SPARE_DOMAIN}"
    refused, sent = await front.send([alias, other])
    assert {to: answer[0] for to, answer in refused.items()} == {other: 452}
    thread = await front.json(f"/_sandbox/manomano/threads/{alias}")
    assert [r["messageId"] for r in thread["replies"]] == [sent["Message-ID"]]


async def test_the_front_says_where_each_domain_goes(front: Front) -> None:
    described = await front.json("/_sandbox/reply-front")
    assert described["port"] == front.port
    by_double = {r["double"]: r for r in described["relays"]}
    assert MANOMANO_BUYER_DOMAIN in by_double["manomano"]["domains"]
    assert "marketplace.amazon.fr" in by_double["amazon"]["domains"]
    assert by_double["manomano"]["port"] == (await front.json("/_sandbox/manomano/relay"))["port"]


# --- nothing goes through it anonymously ------------------------------------------------------


async def test_a_mail_without_auth_is_refused_530_and_not_delivered(front: Front) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await front.send([alias], login=None)
    assert refused.value.code == 530
    thread = await front.admin.get(f"/_sandbox/manomano/threads/{alias}")
    assert thread.status_code == 404 or thread.json()["replies"] == []


async def test_a_wrong_login_is_refused_535_and_nothing_is_delivered(front: Front) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    for wrong in (
        SmtpLogin(LOGIN.username, LOGIN.password + "x"),
        SmtpLogin("someone-else", LOGIN.password),
    ):
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            await front.send([alias], login=wrong)
        assert refused.value.code == 535
    thread = await front.admin.get(f"/_sandbox/manomano/threads/{alias}")
    assert thread.status_code == 404 or thread.json()["replies"] == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_the_right_login_is_taken_by_either_mechanism(front: Front, mechanism: str) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = INBOUND, alias, "Re: votre commande"
    message["Message-ID"] = make_msgid(domain="inbound.keybuzz.test")
    message.set_content("Bonjour.")
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=front.port, start_tls=False, timeout=TIMEOUT
    ) as client:
        await client.ehlo()
        login = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        answer = await login(LOGIN.username, LOGIN.password)
        assert answer.code == 235
        await client.send_message(message, sender=INBOUND, recipients=[alias])
    thread = await front.json(f"/_sandbox/manomano/threads/{alias}")
    assert [r["messageId"] for r in thread["replies"]] == [message["Message-ID"]]


async def test_the_password_shows_in_neither_the_log_nor_the_admin_answer(
    front: Front, caplog: pytest.LogCaptureFixture
) -> None:
    alias = f"{uuid.uuid4().hex[:12]}@{MANOMANO_BUYER_DOMAIN}"
    with caplog.at_level(logging.DEBUG):
        await front.send([alias])
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await front.send([alias], login=SmtpLogin(LOGIN.password, LOGIN.password))
    described = await front.admin.get("/_sandbox/reply-front")
    assert described.json()["auth"] == {
        "mechanisms": ["LOGIN", "PLAIN"],
        "username": LOGIN.username,
    }
    assert "AUTH" in caplog.text  # the dialogue was logged, its secret not
    plain = base64.b64encode(f"\0{LOGIN.username}\0{LOGIN.password}".encode()).decode()
    for secret in (LOGIN.password, base64.b64encode(LOGIN.password.encode()).decode(), plain):
        assert secret not in caplog.text
        assert secret not in described.text
    assert LOGIN.password not in repr(front.sandbox.config)


async def test_without_a_login_the_front_does_not_serve() -> None:
    async with running_sandbox(
        SandboxConfig(
            reply_front_port=0,
            doubles=(_amazon_settings(reply_smtp_port=0, bench_orders=300),),
        ),
        lifespan=True,
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as admin:
            described = (await admin.get("/_sandbox/reply-front")).json()
    assert described["port"] is None and described["auth"] is None
