"""Self-contained HMAC-signed tokens.

Access and refresh tokens carry their own claims, so a sandbox
restart does not invalidate developers' existing connections (only revocations
need storage, the sandbox's state.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TypeVar

import msgspec

T = TypeVar("T", bound=msgspec.Struct)

ACCESS_PREFIX = "Atza|"
REFRESH_PREFIX = "Atzr|"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def mac(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest())

    def verify_mac(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.mac(message), signature)

    def seal(self, prefix: str, claims: msgspec.Struct) -> str:
        body = _b64(msgspec.json.encode(claims))
        return f"{prefix}{body}.{self.mac(prefix + body)}"

    def open(self, prefix: str, token: str, claims_type: type[T]) -> T | None:
        """Claims of a token we issued, or None if it is foreign, altered or malformed."""
        if not token.startswith(prefix):
            return None
        body, _, signature = token[len(prefix) :].partition(".")
        if not signature or not self.verify_mac(prefix + body, signature):
            return None
        try:
            return msgspec.json.decode(_unb64(body), type=claims_type)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return None
