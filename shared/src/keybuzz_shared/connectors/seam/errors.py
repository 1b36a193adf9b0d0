"""The errors every connector raises, each marketplace subclassing them."""

from __future__ import annotations

from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.redaction import mask_tokens, remote_excerpt

# A connector translates its marketplace's failures into these outcomes: retry later
# (MarketplaceUnavailable), re-authenticate (CredentialsRefused), refused with a reason
# (RequestRefused; for a reply, a FAILED ReplyOutcome), outcome unknown (OutcomeUnknown),
# and AnswerUnreadable for an answer it cannot read.


class TokensMasked(Exception):
    """An error whose message may quote a remote (a marketplace's reason, its codes): every
    text given is masked by shape (``redaction.mask_tokens``), so no token, in any form it
    was echoed in, reaches a status, an event or a log line through it. Our words, the HTTP
    status and the marketplace's codes read as they are."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_tokens(a) if isinstance(a, str) else a for a in args))


class ConnectorError(TokensMasked):
    """Base of a connector's failures; messages never hold a credential nor a token-shaped
    part of what the marketplace said."""


class CredentialsRefused(ConnectorError):
    """Re-authenticate: the marketplace refused the shop's credentials (after the session
    renewed its token once, where it has one): the seller must connect again."""


class ShopCredentialsRefused(CredentialsRefused):
    """``label`` refused the shop's ``credentials`` ("token", "API key"), and why."""

    def __init__(self, detail: str, *, label: str, credentials: str = "credentials") -> None:
        detail = remote_excerpt(detail)
        super().__init__(f"{label} refused the shop's {credentials}: {detail}")
        self.detail = detail


class MarketplaceUnavailable(ConnectorError, DependencyUnavailable):
    """Retry later: the marketplace is down or throttling us; the same call will work
    later, after ``retry_after`` seconds when the marketplace said so."""

    retry_after: float | None = None


class RequestRefused(ConnectorError):
    """Refused with a reason: the marketplace answered and refused this request (its
    message names why, with the marketplace's own codes); the same request would be
    refused again. A refused reply is a FAILED ``ReplyOutcome`` instead."""


class AnswerUnreadable(ConnectorError):
    """The marketplace's answer is not one the connector reads (not its format, truncated,
    too large, off its schema): nothing of it is used."""


class OutcomeUnknown(ConnectorError):
    """Outcome unknown: a call that sends something (a reply) lost its answer after it left: the marketplace
    may have acted on it. Read the thread back (``ReplyChannel.sent_messages``) before
    sending it again, or the buyer may get it twice."""


# The outcomes of one call of a shop API client, worded with the marketplace's ``label``
# (its display name), given to each (the kit's ``CallErrors.labelled``) or set by a subclass.


class CallUnavailable(MarketplaceUnavailable):
    """``call`` (as its client names it) unavailable: the same call works later."""

    label: str = "the marketplace"

    def __init__(
        self, call: str, reason: str, *, retry_after: float | None = None, label: str = ""
    ) -> None:
        self.label = label or self.label
        reason = remote_excerpt(reason)
        super().__init__(f"{self.label} {call} unavailable: {reason}")
        self.call = call
        self.reason = reason
        self.retry_after = retry_after


class CallRefused(RequestRefused):
    """``call`` answered with a 4xx of the marketplace's own (``status``) and why."""

    label: str = "the marketplace"

    def __init__(self, call: str, status: int, detail: str, *, label: str = "") -> None:
        self.label = label or self.label
        detail = remote_excerpt(detail)
        super().__init__(f"{self.label} {call} answered HTTP {status}: {detail}")
        self.call = call
        self.status = status
        self.detail = detail


class CallAnswerUnreadable(AnswerUnreadable):
    """``call``'s answer is not one its client reads (``reason`` says what came)."""

    label: str = "the marketplace"

    def __init__(self, call: str, reason: str, *, label: str = "") -> None:
        self.label = label or self.label
        reason = remote_excerpt(reason)
        super().__init__(f"unreadable {self.label} answer to {call}: {reason}")
        self.call = call
        self.reason = reason


class CallOutcomeUnknown(OutcomeUnknown):
    """``call``, which sends something, lost its answer after it left: not sent again."""

    label: str = "the marketplace"

    def __init__(self, call: str, reason: str, *, label: str = "") -> None:
        self.label = label or self.label
        reason = remote_excerpt(reason)
        super().__init__(
            f"{self.label} {call}: the answer was lost ({reason}); {self.label} may have "
            "processed it, so it was not sent again"
        )
        self.call = call
        self.reason = reason
