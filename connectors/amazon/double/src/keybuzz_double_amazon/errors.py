"""SP-API error bodies: {"errors": [{"code", "message", "details"}]}; the sandbox answers an
unknown path with one, as SP-API does (the double's ``unknown_path_at``)."""

from __future__ import annotations

import uuid

import msgspec
from keybuzz_sandbox.answers import json_answer
from keybuzz_sandbox.double_kit.model_structs import model_structs
from litestar import Response

from .models import model_document

# The models' Error: code and message, details left out when None (Amazon's 429 bodies).
(ErrorItem,) = model_structs(model_document("ordersV0")["definitions"], "Error")


class SpApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: str | None = "", error_type: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.item = ErrorItem(code=code, message=message, details=details)
        # Amazon's gateway names some errors in x-amzn-ErrorType (not all of them).
        self.error_type = error_type

    def body(self) -> bytes:
        return msgspec.json.encode({"errors": [self.item]})


ACCESS_DENIED = "Access to requested resource is denied."


def unauthorized(details: str = "") -> SpApiError:
    return SpApiError(403, "Unauthorized", ACCESS_DENIED, details, "AccessDeniedException")


def invalid_input(message: str, details: str = "") -> SpApiError:
    return SpApiError(400, "InvalidInput", message, details)


def not_found(message: str) -> SpApiError:
    return SpApiError(404, "NotFound", message)


def quota_exceeded() -> SpApiError:
    # Observed 429 bodies carry no "details".
    return SpApiError(
        429, "QuotaExceeded", "You exceeded your quota for the requested resource.", None
    )


def server_fault(status: int) -> SpApiError:
    if status == 429:
        return quota_exceeded()
    if status == 403:  # an injected refusal (faults.FAIL_NEXT_STATUSES)
        return unauthorized()
    if status == 503:
        return SpApiError(
            503, "ServiceUnavailable", "Service is temporarily unavailable. Please try again later."
        )
    return SpApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")


def not_found_response() -> Response[bytes]:
    """Unknown paths answer like SP-API does, with its error body."""
    error = not_found("The requested resource was not found.")
    return json_answer({"errors": [error.item]}, 404, {"x-amzn-RequestId": str(uuid.uuid4())})
