"""What an OAuth 2.0 token endpoint of a double reads and answers (RFC 6749): its form,
posted form-encoded or as a JSON object (as some SDKs post it), the client's credentials in
HTTP Basic, its JSON answers (``no-store``, made hostile as a fault says), its errors and
an injected failure in the RFC's words."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response

from keybuzz_sandbox.faults import HUGE_BYTES, malform

FORM_TYPES = "Content-Type must be application/x-www-form-urlencoded or application/json"


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        return {"error_description": self.description, "error": self.error}


def server_fault(status: int) -> OAuthError:
    """An injected failure, in RFC 6749's words."""
    if status == 429:
        return OAuthError("too_many_requests", "Too many requests; retry later", 429)
    if status == 503:
        return OAuthError(
            "temporarily_unavailable",
            "The authorization server is temporarily unable to handle the request",
            503,
        )
    return OAuthError(
        "server_error", "The authorization server encountered an unexpected condition", 500
    )


def token_answer(
    payload: Any, status: int, malformed_kind: str | None = None, huge_bytes: int = HUGE_BYTES
) -> Response[bytes]:
    body = msgspec.json.encode(payload)
    if malformed_kind and status < 400:
        body = malform(body, malformed_kind, huge_bytes)
    return Response(
        content=body,
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers={"Cache-Control": "no-store"},
    )


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) of an ``Authorization: Basic`` header, None without one."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str] | None:
    """The request's fields, None when its body is neither a form nor a JSON object (its
    values that are not text as their JSON)."""
    content_type = request.headers.get("content-type", "").lower()
    raw = await request.body()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if not content_type.startswith("application/json"):
        return None
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(body, dict):
        return None
    return {
        str(k): v if isinstance(v, str) else msgspec.json.encode(v).decode()
        for k, v in body.items()
    }
