"""Replies through a marketplace's API (the seam's reply channel): what the
marketplace takes, and one attempt, sent at most once.

A marketplace's API takes no idempotency key. Every attempt is marked unconfirmed when it
is claimed (``ReplyStore.claim_due``) and stays so unless its outcome shows nothing was
sent. An attempt that finds it set (the previous answer was lost, or the sender died
between the marketplace's answer and our commit) reads the thread back first: when our
reply is there, it is SENT without being sent again (docs/POLLER.md, "Replies through a
marketplace's API").
"""

from __future__ import annotations

import binascii

import msgspec
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    Limits,
    OutcomeUnknown,
    Reply,
    ReplyFile,
    shop_api_of,
)
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.text import storable

from keybuzz_poller.replies.checks import (
    AttachmentIn,
    AttachmentsTooLarge,
    InvalidReply,
    ReplyRequest,
    UnsupportedAttachment,
)
from keybuzz_poller.replies.ports import (
    ApiRequest,
    ClaimedReply,
    MarketplaceReplies,
    Outcome,
    RepliesPorts,
)
from keybuzz_poller.shops.domain import is_own_reply

# What ``Outcome.code`` holds when the marketplace refused the shop's key.
KEY_REFUSED = "REAUTH_REQUIRED"


def check_api_reply(
    request: ReplyRequest, api: MarketplaceReplies, marketplace: str
) -> tuple[str, tuple[ReplyFile, ...]]:
    """The reply's text as the marketplace will carry it (its connector's rule: what the
    thread lists back once it is sent, so the ticket and the read-back see the same text)
    and its files as bytes, both within the connector's ``Limits``; or the first problem,
    named with the rule."""
    limits = api.limits
    text = api.reply_text(request.text.replace("\r\n", "\n")).strip()
    if not text:
        raise InvalidReply(
            f"text must not be empty (once what {marketplace} cannot carry is left out)"
        )
    if len(text) > limits.max_text_length:
        raise InvalidReply(
            f"text is longer than {limits.max_text_length} characters, {marketplace}'s limit"
        )
    if storable(text) != text:
        raise InvalidReply("text holds characters a marketplace message cannot carry (NUL)")
    if len(request.attachments) > limits.max_attachments:
        raise InvalidReply(
            f"{marketplace} replies take no attachments"
            if not limits.max_attachments
            else f"{marketplace} replies take at most {limits.max_attachments} attachments"
        )
    files = tuple(_file(a, limits, marketplace) for a in request.attachments)
    total = sum(len(f.data) for f in files)
    if total > limits.max_attachment_bytes:
        raise AttachmentsTooLarge(
            f"attachments total {total} bytes, over {marketplace}'s limit of "
            f"{limits.max_attachment_bytes} bytes per reply"
        )
    return text, files


def _file(given: AttachmentIn, limits: Limits, marketplace: str) -> ReplyFile:
    kind = given.content_type.strip().lower()
    if limits.attachment_formats and kind not in limits.attachment_formats:
        allowed = ", ".join(limits.attachment_formats)
        raise UnsupportedAttachment(
            f"attachment {given.filename!r} is {kind}: {marketplace} takes only {allowed}"
        )
    try:
        data = binascii.a2b_base64(given.content_base64, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidReply("an attachment's contentBase64 is not valid base64") from None
    return ReplyFile(name=given.filename.strip(), content_type=kind, data=data)


async def send_through_api(
    ports: RepliesPorts, api: MarketplaceReplies, claimed: ClaimedReply
) -> Outcome:
    """One attempt of a queued API reply: read back when in doubt, else send."""
    reply = msgspec.json.decode(claimed.mail, type=ApiRequest).reply
    tenant_id = claimed.tenant_id
    try:
        if claimed.unconfirmed and await _on_thread(api, claimed, reply):
            return Outcome("sent", "found on the marketplace's thread: not sent again")
        try:
            outcome = await api.reply(tenant_id, reply)
        except OutcomeUnknown as exc:
            if await _on_thread(api, claimed, reply):
                return Outcome("sent", "answer lost, reply found on the marketplace's thread")
            return Outcome("unknown", str(exc))
    except CredentialsRefused as exc:
        await ports.key_refused(tenant_id, claimed.marketplace, str(exc))
        return Outcome("refused", f"{exc}: the shop must be connected again", KEY_REFUSED)
    except (DependencyUnavailable, OutcomeUnknown) as exc:
        # The marketplace or the key's store is down (nothing was sent by this attempt),
        # or the read-back after a lost answer failed: an earlier doubt stays.
        return Outcome("unknown" if claimed.unconfirmed else "temporary", str(exc))
    if outcome.status == "SENT":
        return Outcome("sent", "accepted by the marketplace")
    reason = outcome.reason or "refused by the marketplace"
    # The marketplace's own codes for the refusal, as its connector reads them.
    codes = shop_api_of(connector_for(claimed.marketplace)).refusal_codes(outcome)
    return Outcome("refused", reason, ", ".join(codes) or None)


async def _on_thread(api: MarketplaceReplies, claimed: ClaimedReply, reply: Reply) -> bool:
    """Whether the seller's messages on the reply's thread, since it was queued, hold it."""
    found = await api.sent_messages(claimed.tenant_id, reply.thread, claimed.created_at)
    # As the marketplace carries it: what it lists back, whatever the queued text held.
    text = api.reply_text(reply.body)
    return any(is_own_reply(text, claimed.created_at, m.body, m.sent_at) for m in found)
