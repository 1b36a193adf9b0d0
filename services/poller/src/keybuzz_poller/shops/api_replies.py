"""One attempt of a reply through a marketplace's API (``ports.MarketplaceReplies``: the
seam's reply channel on the tenant's shop), sent at most once: the replies' sender calls it
as its ``RepliesPorts.send_through_api`` (wired by ``bootstrap.py``) for a reply of a
marketplace in ``RepliesPorts.apis``.

A marketplace's API takes no idempotency key. Every attempt is marked unconfirmed when it
is claimed (``ReplyStore.claim_due``) and stays so unless its outcome shows nothing was
sent. An attempt that finds it set (the previous answer was lost, or the sender died
between the marketplace's answer and our commit) reads the thread back first: when our
reply is there (by its words, ``seam.read_back``), it is SENT without being sent again;
when the thread shows no seller's message since the reply was queued, it is sent; when it
shows some, none of them the reply's words, it cannot tell: the reply is FAILED in doubt
(``UNCONFIRMED``) for an agent, never sent again blindly (docs/POLLER.md, "Replies through
a marketplace's API").
"""

from __future__ import annotations

from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    OutcomeUnknown,
    shop_api_of,
)
from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_poller.shops.domain import ReadBack, read_back
from keybuzz_poller.shops.ports import (
    KEY_REFUSED,
    UNCONFIRMED,
    ApiAttempt,
    ApiOutcome,
    MarketplaceReplies,
)


async def send_through_api(api: MarketplaceReplies, attempt: ApiAttempt) -> ApiOutcome:
    """One attempt of a queued API reply: read back when in doubt, else send."""
    reply, tenant_id = attempt.reply, attempt.tenant_id
    try:
        if attempt.in_doubt:
            seen = await _read_back(api, attempt)
            if seen != "absent":
                return _in_doubt(seen, "found on the marketplace's thread: not sent again")
        try:
            outcome = await api.reply(tenant_id, reply)
        except OutcomeUnknown as exc:
            seen = await _read_back(api, attempt)
            if seen != "absent":
                return _in_doubt(seen, "answer lost, reply found on the marketplace's thread")
            return ApiOutcome(kind="unknown", detail=str(exc))
    except CredentialsRefused as exc:
        detail = f"{exc}: the shop must be connected again"
        return ApiOutcome(kind="refused", detail=detail, code=KEY_REFUSED, key_refused=str(exc))
    except (DependencyUnavailable, OutcomeUnknown) as exc:
        # The marketplace or the key's store is down (nothing was sent by this attempt),
        # or the read-back after a lost answer failed: an earlier doubt stays.
        return ApiOutcome(kind="unknown" if attempt.in_doubt else "temporary", detail=str(exc))
    if outcome.status == "SENT":
        return ApiOutcome(kind="sent", detail="accepted by the marketplace")
    reason = outcome.reason or "refused by the marketplace"
    # The marketplace's own codes for the refusal, as its connector reads them.
    codes = shop_api_of(connector_for(attempt.marketplace)).refusal_codes(outcome)
    return ApiOutcome(kind="refused", detail=reason, code=", ".join(codes) or None)


# Why a reply in doubt whose thread cannot tell is not sent again (its FAILED reason).
UNDECIDED = (
    "may have been sent: a seller's message on the marketplace's thread since it was "
    "queued is not its text; not sent again, check the thread"
)


def _in_doubt(seen: ReadBack, found: str) -> ApiOutcome:
    """A reply in doubt whose thread was read: SENT when it is there; when the thread
    cannot tell, FAILED in doubt for an agent, never sent again blindly."""
    if seen == "found":
        return ApiOutcome(kind="sent", detail=found)
    return ApiOutcome(kind="undecided", detail=UNDECIDED, code=UNCONFIRMED)


async def _read_back(api: MarketplaceReplies, attempt: ApiAttempt) -> ReadBack:
    """What the seller's messages on the reply's thread, since it was queued, tell of it."""
    reply, queued_at = attempt.reply, attempt.queued_at
    found = await api.sent_messages(attempt.tenant_id, reply.thread, queued_at)
    # As the marketplace carries it: what it lists back, whatever the queued text held.
    text = api.reply_text(reply.body)
    return read_back(text, queued_at, found, api.limits.max_text_length)
