"""ManoMano's relay for sellers' replies (docs/MANOMANO.md, "The double"), on the kit's
``RelayHandler``: ManoMano's limits [assumed] checked after the ``250``, a reply breaking
them or to an alias made unreachable bounced."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_sandbox.double_kit.replies import Mailer, PassedReply, Refusal, RelayHandler, ReplyMail
from keybuzz_sandbox.smtp_servers import relay_listening

from . import BUYER_DOMAIN, SUPPORT_ADDRESS, ManoManoDoubleSettings

EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".png")  # the files a reply may carry
MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024  # all files of a reply together


class ThreadReply(PassedReply, kw_only=True):
    to: str  # the alias it was sent to


class BounceTarget(msgspec.Struct, forbid_unknown_fields=True):
    """Where the relay's bounces go (PUT .../bounce-target)."""

    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: Annotated[int, msgspec.Meta(gt=0, lt=65536)]


MAILER = Mailer(
    sender="Mail Delivery System <mailer-daemon@relay.manomano.com>",
    subject="Undelivered Mail Returned to Sender",
    mta="relay.manomano.com",
    footer="Destinataire : {alias}\n",
)


def refusal(status: str, why: str) -> Refusal:
    return Refusal(reason=why, status=status, diagnostic=f"550 {status} {why}", explanation=why)


def refusal_of(reply: ReplyMail, alias: str, relay: Relay) -> Refusal | None:
    """Why the relay refuses the reply, None when it passes."""
    if alias in relay.unreachable:
        return refusal(
            "5.1.1", "Le destinataire ne peut plus être joint par la messagerie ManoMano."
        )
    if len(reply.attachments) > MAX_FILES:
        return refusal(
            "5.3.4", f"Un message ne peut pas porter plus de {MAX_FILES} pièces jointes."
        )
    names = [file.filename.lower() for file in reply.attachments]
    if unlisted := [name for name in names if not name.endswith(EXTENSIONS)]:
        return refusal("5.6.1", f"Type de pièce jointe refusé : {unlisted[0]}.")
    if sum(file.size for file in reply.attachments) > MAX_FILE_BYTES:
        return refusal("5.3.4", "Les pièces jointes dépassent 10 Mo au total.")
    return None


class Relay(RelayHandler):
    """The relay: its SMTP hooks, the aliases made unreachable."""

    accepted = "250 2.0.0 OK: queued"
    hostname, ident = "relay.manomano.com", "ManoMano relay (KeyBuzz sandbox)"

    def __init__(self, settings: ManoManoDoubleSettings) -> None:
        super().__init__(BounceTarget(settings.mx_host, settings.mx_port))
        self.settings = settings
        self.unreachable: set[str] = set()
        self.reply_smtp_port: int | None = None  # bound, once it serves

    async def recipient_refusal(self, address: str) -> str | None:
        address = address.lower()
        if address.endswith("@" + BUYER_DOMAIN) or address == SUPPORT_ADDRESS:
            return None
        return "550 5.1.1 Recipient address rejected: unknown ManoMano address"

    async def take(self, reply: ReplyMail, alias: str, bounce_to: str) -> None:
        refused = refusal_of(reply, alias, self)
        if refused is None:
            self.pass_on(alias, ThreadReply.of(reply, to=alias))
            return
        self.refuse(reply, alias, refused, MAILER, bounce_to)


# Where it takes replies (the ``Double``'s ``reply_relay_at``).
listening_at = relay_listening("manomano")
