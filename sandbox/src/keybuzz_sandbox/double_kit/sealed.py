"""Tokens a double hands out that carry their own state, HMAC-signed with its secret (tokens
that survive a restart: only revocations need storing). Page tokens always hold '+', '/' and
'=', as some marketplaces' do: a client that does not URL-encode them breaks here as there."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, TypeVar

import msgspec

from keybuzz_sandbox.double_kit.api import Refused

T = TypeVar("T")

_PAGE_HEADER = b"\xfb\xef\xff"  # encodes as "++//"
_MAC_BYTES = 32
_MAC_AT = len(_PAGE_HEADER)  # a page token's bytes: the header, its MAC, the page's JSON
_BODY_AT = _MAC_AT + _MAC_BYTES


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _PageEnvelope(msgspec.Struct):
    iat: float  # real time the token was issued
    state: Any


class Signer:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def mac(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest())

    def seal(self, prefix: str, claims: msgspec.Struct) -> str:
        body = _b64(msgspec.json.encode(claims))
        return f"{prefix}{body}.{self.mac(prefix + body)}"

    def open(self, prefix: str, token: str, claims_type: type[T]) -> T | None:
        """Claims of a token we issued, or None if it is foreign, altered or malformed."""
        if not token.startswith(prefix):
            return None
        body, _, signature = token[len(prefix) :].partition(".")
        if not signature or not hmac.compare_digest(self.mac(prefix + body), signature):
            return None
        try:
            return msgspec.json.decode(_unb64(body), type=claims_type)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return None

    # --- page tokens ---------------------------------------------------------------------

    def _page_mac(self, body: bytes) -> bytes:
        return hmac.new(self.mac("page-tokens").encode(), body, hashlib.sha256).digest()

    def seal_page(self, state: msgspec.Struct, now: float) -> str:
        body = msgspec.json.encode(_PageEnvelope(now, state))
        if (_BODY_AT + len(body)) % 3 == 0:
            body += b" "  # JSON tolerates trailing blanks; the token now ends with '='
        raw = _PAGE_HEADER + self._page_mac(body) + body
        return base64.b64encode(raw).decode("ascii")

    def open_page(
        self, token: str, kind: type[T], name: str, now: float, lifetime: float | None = None
    ) -> T:
        """The page state in ``token`` (its parameter's ``name`` in the refusals); refused
        when altered (e.g. not URL-encoded) or older than ``lifetime`` seconds."""
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, f"Invalid {name}.") from None
        head, mac, body = raw[:_MAC_AT], raw[_MAC_AT:_BODY_AT], raw[_BODY_AT:]
        if head != _PAGE_HEADER or not hmac.compare_digest(mac, self._page_mac(body)):
            raise Refused(400, f"Invalid {name}.")
        envelope = msgspec.json.decode(body, type=_PageEnvelope)
        if lifetime is not None and now > envelope.iat + lifetime:
            raise Refused(400, f"The {name} has expired.")
        try:
            return msgspec.convert(envelope.state, kind)
        except msgspec.ValidationError:
            raise Refused(400, f"Invalid {name}.") from None
