"""HTTP plumbing shared by the services: JSON errors, body decoding, domain errors.

Every error leaves as ``{"error": <code>, "message": <what is wrong>}`` (plus
``details`` for validation problems); an unexpected exception becomes a 500
with no stack trace and is logged with its request id instead. Bad input never
gets that far: :class:`JsonRequest` refuses bodies that are not JSON text we can
store (invalid UTF-8, nesting deeper than :data:`MAX_JSON_DEPTH`, NUL characters)
with a 400, for every service at once (docs/SECURITY.md, "HTTP input"), and holds
bodies to their type strictly: a number is a JSON number, an integer has no fraction
(docs/CONTRACTS.md, "Request bodies").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from keybuzz_shared.errors import is_outage
from keybuzz_shared.text import is_storable

log = logging.getLogger(__name__)


class ErrorBody(msgspec.Struct, omit_defaults=True):
    error: str
    message: str
    details: Any = None
    request_id: str | None = msgspec.field(default=None, name="requestId")


class BadRequest(ClientException):
    """400 with a message saying what is wrong."""


class NotFound(NotFoundException):
    pass


class Conflict(ClientException):
    status_code = 409


# Our bodies are a few levels deep; anything far deeper is an attack or a mistake.
MAX_JSON_DEPTH = 32
# PostgreSQL text cannot hold U+0000: refused at the door rather than as a 500 at INSERT.


class JsonRequest(Request[Any, Any, Any]):
    """A request whose JSON body is either usable data or a clear 400.

    Litestar decodes the body as untyped JSON first (``Request.json``), before
    the handler's msgspec type is applied; msgspec then raises ``RecursionError``
    for deep nesting and ``UnicodeDecodeError`` for invalid UTF-8, which
    Litestar does not treat as client errors.
    """

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise BadRequest(f"JSON body nested deeper than {MAX_JSON_DEPTH} levels") from None
        except (UnicodeDecodeError, SerializationException):
            # msgspec's own words for bad UTF-8 change (0.23: a DecodeError Litestar
            # wraps); the body's bytes say it, and where, whichever is installed.
            await self._refuse_bad_utf8()
            raise
        check_json_text(value)
        self._refuse_coerced(value)
        return value

    async def _refuse_bad_utf8(self) -> None:
        try:
            (await self.body()).decode()
        except UnicodeDecodeError as exc:
            raise BadRequest(f"JSON body is not valid UTF-8 (byte {exc.start})") from None

    def _refuse_coerced(self, value: Any) -> None:
        """Litestar converts the body to the handler's ``data`` type leniently ("24" or
        24.0 for an int): a body only that leniency would accept is a 400 naming the field.
        A body wrong either way is left to Litestar's own validation."""
        data = self.route_handler.parsed_data_field
        if data is None:
            return
        try:
            msgspec.convert(value, data.annotation, strict=True)
        except msgspec.ValidationError as strict:
            try:
                msgspec.convert(value, data.annotation, strict=False)
            except msgspec.ValidationError:
                return
            raise _strict_error(str(strict)) from None
        except TypeError:  # a type msgspec does not convert by itself: Litestar's to judge
            return


def _strict_error(reason: str) -> ValidationException:
    message, _, where = reason.partition(" - at ")
    field = where.strip("`").removeprefix("$").removeprefix(".") or "body"
    return ValidationException(
        detail=f"{field}: {message}",
        extra=[{"message": message, "key": field, "source": "body"}],
    )


def check_json_text(value: Any) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and text PostgreSQL cannot store in any
    string or key (iterative)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"JSON body nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, str):
            _refuse_unstorable(item)
        elif isinstance(item, dict):
            for key, member in item.items():
                _refuse_unstorable(key)
                pending.append((member, depth + 1))
        elif isinstance(item, list):
            pending.extend((member, depth + 1) for member in item)


def _refuse_unstorable(text: str) -> None:
    if not is_storable(text):
        raise BadRequest(
            "text must not contain NUL characters (\\u0000) or lone surrogates (\\ud800-\\udfff)"
        )


_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    502: "bad_gateway",
    503: "unavailable",
}


def http_error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    extra = exc.extra if exc.extra else None
    body = ErrorBody(
        error=_ERROR_CODES.get(exc.status_code, "error"), message=exc.detail, details=extra
    )
    return Response(
        body, status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers
    )


ErrorStatuses = Mapping[type[Exception], int]


def status_for(exc: BaseException, statuses: ErrorStatuses) -> int | None:
    """The status of the most specific class of ``exc`` in ``statuses`` (None: not listed)."""
    for kind in type(exc).__mro__:
        if kind in statuses:
            return statuses[kind]
    return None


def domain_error_handlers(statuses: ErrorStatuses) -> ExceptionHandlersMap:
    """Exception handlers that answer each domain error with its status and its message.

    Use cases raise plain exceptions (``TenantNotFound``); the service says once,
    in its ``app.py``, which status each one means, e.g. ``{TenantNotFound: 404}``,
    and passes the result as a controller's or app's ``exception_handlers``.
    """

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
        status = status_for(exc, statuses) or HTTP_500_INTERNAL_SERVER_ERROR
        return error_response(status, str(exc))

    return {kind: handle for kind in statuses}


def error_response(status: int, message: str, details: Any = None) -> Response[ErrorBody]:
    body = ErrorBody(error=_ERROR_CODES.get(status, "error"), message=message, details=details)
    return Response(body, status_code=status, media_type=MediaType.JSON)


def unexpected_error_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorBody]:
    request_id = str(uuid.uuid4())
    where = {"request_id": request_id, "path": request.url.path, "method": request.method}
    if is_outage(exc):
        # A dependency is down: the same request will work later. No detail (hosts, DSNs).
        log.warning("dependency unavailable", extra={**where, "error": repr(exc)})
        body = ErrorBody(
            error="unavailable",
            message="a dependency is unavailable; retry later",
            request_id=request_id,
        )
        return Response(body, status_code=503, media_type=MediaType.JSON)
    log.error("unhandled error", extra=where, exc_info=exc)
    body = ErrorBody(
        error="internal_error", message="internal error; it has been logged", request_id=request_id
    )
    return Response(body, status_code=HTTP_500_INTERNAL_SERVER_ERROR, media_type=MediaType.JSON)


def unstorable_text_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorBody]:
    """Backstop for text that skipped the body check (a query or path parameter)."""
    return error_response(400, "text contains a character that cannot be stored (e.g. NUL)")


EXCEPTION_HANDLERS = {
    HTTPException: http_error_response,
    # PostgreSQL refusing a character of the input (NUL, or not in the encoding).
    asyncpg.UntranslatableCharacterError: unstorable_text_response,
    asyncpg.CharacterNotInRepertoireError: unstorable_text_response,
    Exception: unexpected_error_response,
}
