"""An agent's reply from a ticket: checked, composed, queued; the tenant's reply settings.

A reply on a ticket of a marketplace whose replies go through its API (``ports.apis``) is
checked against that marketplace's limits (``checks.check_api_reply``) and queued as the request to
send. Any other is mail: checked (``checks.py``) before anything is read or stored, then its
mail (``compose.py``), ticket message and sending work are stored in one transaction. The
sender (``sender.py``) sends either in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import msgspec
from keybuzz_shared.connectors.registry import connector_for, served
from keybuzz_shared.connectors.seam import (
    Recipient,
    Reply,
    ReplyFile,
    ReplyGate,
    shop_api_of,
)
from keybuzz_shared.ids import uuid7_string
from keybuzz_shared.text import storable, storable_json

from keybuzz_poller.inbound.bounce_auth import bounce_address
from keybuzz_poller.inbound.relays import relay_for, relay_marketplace, relay_names
from keybuzz_poller.replies.checks import (
    InvalidReply,
    InvalidSettings,
    ReplyRequest,
    check_api_reply,
    check_reply,
    check_sender_address,
)
from keybuzz_poller.replies.compose import ReplyMail, build_mail, reply_message_id, reply_subject
from keybuzz_poller.replies.outcomes import count_reply
from keybuzz_poller.replies.ports import (
    ApiRequest,
    MarketplaceReplies,
    NewReply,
    RepliesPorts,
    ReplyContext,
)
from keybuzz_poller.shops.domain import INCIDENT_OPEN, thread_of

Out = TypeVar("Out")


class ReplyTicketNotFound(Exception):
    """No such ticket for this tenant."""


class CannotReply(Exception):
    """The reply cannot be sent as things stand (no approved sender, no buyer address …)."""


class ReplyQueued(msgspec.Struct, kw_only=True, rename="camel"):
    ticket_message_id: str
    ticket_id: str
    message_id: str  # the mail's RFC 5322 Message-ID
    status: str = "QUEUED"


class ReplySettings(msgspec.Struct, kw_only=True, rename="camel"):
    reply_from_address: str | None = None


async def queue_reply(
    ports: RepliesPorts, tenant_id: str, ticket_id: str, request: ReplyRequest
) -> ReplyQueued:
    """Check the reply, then store its mail, ticket message and sending work in one transaction."""
    marketplace = await ports.replies.ticket_marketplace(tenant_id, ticket_id)
    if marketplace is not None and not served(marketplace):
        # Neither its API nor a mail relay: the reply waits for the marketplace to be back.
        raise CannotReply(f"marketplace {marketplace} is not served now: reply when it is again")
    api = ports.apis.get(marketplace) if marketplace is not None else None
    if marketplace is not None and api is not None:
        return await _queue_api_reply(ports, api, tenant_id, ticket_id, request, marketplace)
    # Before anything else is read or stored. Decoding (and below, encoding) up to 10 MB of
    # attachments takes a while: off the event loop.
    reply = await _off_loop(request.attachments, check_reply, request, marketplace)
    ticket_message_id = uuid7_string()
    message_id = reply_message_id(ticket_message_id, ports.config.inbound_domain)
    async with ports.unit_of_work() as unit:
        replies = unit.store.replies
        sender = await replies.reply_from_address(tenant_id)
        context = await replies.reply_context(tenant_id, ticket_id)
        if context is None:
            raise ReplyTicketNotFound(f"no ticket {ticket_id}")
        recipient, inbound_address = _addresses(sender, context)
        envelope_sender = bounce_address(
            inbound_address, ticket_message_id, ports.config.bounce_signing_keys[0]
        )
        created_at = ports.clock()
        mail = ReplyMail(
            message_id=message_id,
            sender=recipient[0],
            recipient=recipient[1],
            subject=reply_subject(context.subject, context.order_id, context.marketplace),
            in_reply_to=context.buyer_message_id,
            date=created_at,
            reply=reply,
        )
        raw = await _off_loop(reply.attachments, build_mail, mail)
        await replies.insert_reply(
            _new_reply(tenant_id, ticket_message_id, context, mail, envelope_sender, raw)
        )
    return _queued(ports, ticket_message_id, ticket_id, message_id)


def _queued(
    ports: RepliesPorts, ticket_message_id: str, ticket_id: str, message_id: str
) -> ReplyQueued:
    count_reply(ports.service, "QUEUED")
    ports.wake_sender()  # sent now rather than at the sender's next round
    return ReplyQueued(
        ticket_message_id=ticket_message_id, ticket_id=ticket_id, message_id=message_id
    )


async def _queue_api_reply(
    ports: RepliesPorts,
    api: MarketplaceReplies,
    tenant_id: str,
    ticket_id: str,
    request: ReplyRequest,
    marketplace: str,
) -> ReplyQueued:
    """The reply as the marketplace's API takes it, queued with the request to send."""
    text, files = check_api_reply(request, api, marketplace)
    ticket_message_id = uuid7_string()
    message_id = reply_message_id(ticket_message_id, ports.config.inbound_domain)
    async with ports.unit_of_work() as unit:
        context = await unit.store.replies.reply_context(tenant_id, ticket_id)
        if context is None:
            raise ReplyTicketNotFound(f"no ticket {ticket_id}")
        reply = api_reply(context, text, marketplace, files, request.recipient)
        _check_recipient(api, reply, marketplace, asked=request.recipient is not None)
        created_at = ports.clock()
        _check_allowed(marketplace, reply, context, created_at)
        await unit.store.replies.insert_reply(
            NewReply(
                ticket_message_id=ticket_message_id,
                external_message_id=uuid7_string(),
                tenant_id=tenant_id,
                ticket_id=context.ticket_id,
                marketplace=context.marketplace,
                message_id=message_id,
                order_id=context.order_id,
                envelope_sender="",  # no mail: nothing bounces
                recipient=reply.recipient,
                subject=storable(reply_subject(context.subject, None, context.marketplace)),
                text=text,
                attachments=_described([(f.name, f.content_type, f.data) for f in files]),
                country=context.country,
                created_at=created_at,
                mail=msgspec.json.encode(ApiRequest(reply=reply)),
                automatic=request.automatic,
            )
        )
    return _queued(ports, ticket_message_id, ticket_id, message_id)


def api_reply(
    context: ReplyContext,
    text: str,
    marketplace: str,
    files: tuple[ReplyFile, ...] = (),
    recipient: Recipient | None = None,
) -> Reply:
    """The reply on the ticket's thread (a discussion's with the ticket's order), answering
    its latest message: to ``recipient``, else to the marketplace's customer service while
    the order's incident is open, else to the buyer. The subject is the answered message's;
    the connector keeps it when it is one the marketplace allows, else picks the thread's
    usual one."""
    thread = thread_of(context.thread_key, context.order_id)
    if thread is None:
        raise CannotReply(f"this ticket is no {marketplace} order, offer or discussion thread")
    if context.buyer_message_id is None:
        raise CannotReply(f"this ticket holds no {marketplace} message to answer")
    return Reply(
        thread=thread,
        in_reply_to=context.buyer_message_id,
        body=text,
        recipient=recipient or _usual_recipient(context),
        subject=context.buyer_subject,
        attachments=files,
    )


def _usual_recipient(context: ReplyContext) -> Recipient:
    return "MARKETPLACE_SUPPORT" if context.incident_status == INCIDENT_OPEN else "BUYER"


def _check_recipient(api: MarketplaceReplies, reply: Reply, marketplace: str, asked: bool) -> None:
    """The reply's recipient is one the thread offers on the marketplace: one the agent
    ``asked`` for and the thread does not offer is a bad request (400), the usual one
    the thread does not offer a reply that cannot go (409)."""
    offered = api.recipients(reply.thread)
    if reply.recipient not in offered:
        named = ", ".join(offered) or "no one"
        refusal = InvalidReply if asked else CannotReply
        raise refusal(
            f"{marketplace} takes no reply to {reply.recipient} on this thread "
            f"(its {reply.thread.kind} threads take replies to: {named})"
        )


def _check_allowed(marketplace: str, reply: Reply, context: ReplyContext, now: datetime) -> None:
    """A marketplace that takes a reply only in some states of its thread (the connector's
    ``ReplyGate``) is asked before the reply is queued: refused, it cannot go (409), with
    the marketplace's reason."""
    gate = shop_api_of(connector_for(marketplace))
    if isinstance(gate, ReplyGate):
        reason = gate.reply_refusal(reply, context.standing, now)
        if reason is not None:
            raise CannotReply(reason)


def _described(files: Sequence[tuple[str, str, bytes]]) -> str:
    """What the reply row says of its files (their bytes travel in the request)."""
    listed = [{"filename": n, "contentType": t, "size": len(data)} for n, t, data in files]
    return msgspec.json.encode(storable_json(listed)).decode()


async def _off_loop(attachments: Sequence[object], work: Callable[..., Out], *given: object) -> Out:
    """``work(*given)`` in a worker thread when there are attachments, else right here."""
    if attachments:
        return await asyncio.to_thread(work, *given)
    return work(*given)


def _addresses(sender: str | None, context: ReplyContext) -> tuple[tuple[str, str], str]:
    """((header From, buyer alias), the inbound address bounces come back to), or why the
    reply cannot go."""
    if sender is None:
        raise CannotReply(
            "no approved sender address for replies: set replyFromAddress with "
            "PUT /api/v1/poller/settings (Seller Central's registered address or an approved sender)"
        )
    marketplace = relay_marketplace(context.marketplace)
    if not context.buyer_email:
        form = relay_for(marketplace).buyer_address_form
        raise CannotReply(f"this ticket has no buyer address ({form}) to reply to")
    if not context.inbound_address:
        name = relay_names()[marketplace]
        raise CannotReply(f"the tenant has no inbound address for {name}'s bounces to come back to")
    return (sender, context.buyer_email), context.inbound_address


def _new_reply(
    tenant_id: str,
    ticket_message_id: str,
    context: ReplyContext,
    mail: ReplyMail,
    envelope_sender: str,
    raw: bytes,
) -> NewReply:
    attachments = [(a.filename, a.content_type, a.content) for a in mail.reply.attachments]
    return NewReply(
        ticket_message_id=ticket_message_id,
        external_message_id=uuid7_string(),
        tenant_id=tenant_id,
        ticket_id=context.ticket_id,
        marketplace=context.marketplace,
        message_id=mail.message_id,
        order_id=context.order_id,
        envelope_sender=envelope_sender,
        recipient=mail.recipient,
        subject=storable(mail.subject),
        text=mail.reply.text,
        attachments=_described(attachments),
        country=context.country,
        created_at=mail.date,
        mail=raw,
        automatic=mail.reply.automatic,
    )


async def reply_settings(ports: RepliesPorts, tenant_id: str) -> ReplySettings:
    address = await ports.replies.reply_from_address(tenant_id)
    return ReplySettings(reply_from_address=address)


async def save_reply_settings(
    ports: RepliesPorts, tenant_id: str, settings: ReplySettings
) -> ReplySettings:
    if settings.reply_from_address is None:
        raise InvalidSettings("replyFromAddress is required")
    address = check_sender_address(settings.reply_from_address)
    await ports.replies.save_reply_from_address(tenant_id, address)
    return ReplySettings(reply_from_address=address)
