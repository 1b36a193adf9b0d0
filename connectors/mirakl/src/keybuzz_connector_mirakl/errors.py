"""What a call to an operator's Mirakl seller API can fail with: the seam's outcomes, each
naming the operator, the call (Mirakl's operation code) and Mirakl's status and message,
never the shop's API key (docs/MIRAKL.md, "Failure modes")."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    ConnectorError,
    CredentialsRefused,
    MarketplaceUnavailable,
    OutcomeUnknown,
    RequestRefused,
)


class MiraklError(ConnectorError):
    """Base of every Mirakl failure."""


class MiraklCredentialsRefused(MiraklError, CredentialsRefused):
    """The operator refused the API key (401: wrong, or regenerated in the shop's back
    office), or the key's user has no access to the shop id named (403)."""

    def __init__(self, operator: str, detail: str) -> None:
        super().__init__(f"{operator} (Mirakl) refused the shop's API key: {detail}")
        self.operator = operator
        self.detail = detail


class MiraklUnavailable(MiraklError, MarketplaceUnavailable):
    """Unreachable, timeouts, 5xx, 429, until the retries or the call's deadline ran out,
    or a call held back inside the Retry-After the operator gave: the same call works
    later (after ``retry_after`` seconds when Mirakl said so)."""

    def __init__(
        self, operator: str, call: str, reason: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{operator} (Mirakl) {call} unavailable: {reason}")
        self.operator = operator
        self.call = call
        self.reason = reason
        self.retry_after = retry_after


class MiraklRequestRefused(MiraklError, RequestRefused):
    """The operator answered this call with a 4xx of its own (``status``) and Mirakl's
    message (``detail``): the same call would be refused again."""

    def __init__(self, operator: str, call: str, status: int, detail: str) -> None:
        super().__init__(f"{operator} (Mirakl) {call} answered HTTP {status}: {detail}")
        self.operator = operator
        self.call = call
        self.status = status
        self.detail = detail


class MiraklAnswerUnreadable(MiraklError, AnswerUnreadable):
    """The answer is not Mirakl's API: HTML, a redirect, another content type, not JSON,
    truncated, too large, off its shape. Often a base URL in the catalogue that is not the
    operator's API (``reason`` says what came)."""

    def __init__(self, operator: str, call: str, reason: str) -> None:
        super().__init__(f"unreadable answer of {operator} (Mirakl) to {call}: {reason}")
        self.operator = operator
        self.call = call
        self.reason = reason


class MiraklOutcomeUnknown(MiraklError, OutcomeUnknown):
    """A call that sends something lost its answer after it left: the operator may have
    acted on it, so it was not sent again."""

    def __init__(self, operator: str, call: str, reason: str) -> None:
        super().__init__(
            f"{operator} (Mirakl) {call}: the answer was lost ({reason}); it may have been "
            "processed, so it was not sent again"
        )
        self.operator = operator
        self.call = call
        self.reason = reason
