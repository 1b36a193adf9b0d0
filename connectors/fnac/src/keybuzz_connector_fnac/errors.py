"""What a Fnac/Darty call can fail with. Every message names the service and Fnac's codes,
never the shop key or the token (docs/FNAC.md, "Failure modes")."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    CallOutcomeUnknown,
    CallUnavailable,
    ConnectorError,
    CredentialsRefused,
    RequestRefused,
)


class FnacErrorDetail(msgspec.Struct, frozen=True):
    """One ``<error severity="…" code="ERR_…">text</error>`` of a response."""

    code: str
    severity: str
    text: str


class FnacError(ConnectorError):
    """Base of every Fnac/Darty failure."""


class FnacCredentialsRefused(FnacError, CredentialsRefused):
    """``auth`` refused the partner_id/shop_id/key (wrong, or the key was revoked)."""

    def __init__(self, detail: str, errors: Sequence[FnacErrorDetail] = ()) -> None:
        super().__init__(f"Fnac refused the shop's credentials: {detail}")
        self.errors = tuple(errors)
        self.codes = tuple(error.code for error in self.errors)


class FnacUnavailable(FnacError, CallUnavailable):
    """Unreachable, timeouts, 5xx, 429, until the retries ran out: try again later."""

    label = "Fnac"

    def __init__(self, call: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(call, reason, retry_after=retry_after)
        self.service = call


class FnacOutcomeUnknown(FnacError, CallOutcomeUnknown):
    """A call that changes something (a reply) lost its answer after it left: Fnac may have
    acted on it, so it was not sent again (a buyer would get the reply twice)."""

    label = "Fnac"

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(service, reason)
        self.service = service


class FnacProtocolError(FnacError, AnswerUnreadable):
    """The answer is not one we read: not XML, truncated, a DTD or entities, too large,
    or not the shape of the service's response."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unreadable Fnac response: {reason}")
        self.reason = reason


class FnacRequestRefused(FnacError, RequestRefused):
    """The response's status is ERROR or FATAL; Fnac's error codes are kept."""

    def __init__(self, service: str, status: str, errors: Sequence[FnacErrorDetail]) -> None:
        self.service = service
        self.status = status
        self.errors = tuple(errors)
        self.codes = tuple(error.code for error in self.errors)
        listed = "; ".join(f"{e.code}: {e.text}"[:200] for e in self.errors) or "no error given"
        super().__init__(f"Fnac {service} answered {status}: {listed}")


def refusal_codes(reason: str) -> tuple[str, ...]:
    """Fnac's ``ERR_…`` codes in a refusal's text, each once, in order."""
    codes = (word.strip(",;:()") for word in reason.split() if word.startswith("ERR_"))
    return tuple(dict.fromkeys(codes))
