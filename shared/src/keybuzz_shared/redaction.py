"""What counts as a secret, and how it is masked: one rule for logs, settings and
views of other services' rows.

A leaf module (it imports nothing of ours), so logging, tracing and settings can
all use it without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import is_dataclass
from typing import Any
from urllib.parse import ParseResult, SplitResult

import msgspec

REDACTED = "[REDACTED]"

# A name is a secret's when, lower-cased and without separators (refresh_token,
# refreshToken, Refresh-Token → refreshtoken), it ends with one of these words:
# lwa_refresh_token, X-Amz-Access-Token, VAULT_TOKEN, client_secret, vault_secret_id,
# internal_api_key, X-Internal-Key, spapi_oauth_code, smtp_password, Authorization.
_SECRET_ENDINGS = (
    "token",
    "secret",
    "secretid",
    "password",
    "apikey",
    "internalkey",
    "authorization",
    "oauthcode",
)
# Marketplaces' pagination cursors may be called tokens but open nothing: shown as they are.
_PUBLIC_TOKENS = frozenset({"nexttoken", "pagetoken", "continuationtoken"})
_SEPARATORS = re.compile(r"[^a-z0-9]")


def is_secret_name(name: str) -> bool:
    """A field, setting or column named like a secret is masked whole, whatever its value."""
    normalized = _SEPARATORS.sub("", name.lower())
    return normalized.endswith(_SECRET_ENDINGS) and normalized not in _PUBLIC_TOKENS


# scheme://user:password@host, whatever the scheme (postgresql, nats, tls, https, smtp…):
# the password is masked, the user and host stay readable. It runs up to the last "@" before
# the path: a password holding "@" or ":" (left unencoded) is masked whole; "/" ends it, so
# each URL of a comma-separated cluster list (nats://a:p@h1,nats://a:q@h2) is its own match.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:'\"<>]*):[^\s/'\"<>]*@")

# name=value, name: value, "name": "value" (query strings, JSON, headers, exception texts):
# the value is masked when is_secret_name(name). Already masked values are left alone
# ("Authorization: Bearer [REDACTED]" stays so).
_NAMED_VALUE = re.compile(
    r"\b(?P<name>[\w.-]++)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?!\[REDACTED\]|(?i:bearer|basic)\s)[^\s\"'&,;}]+)"
)
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_URL_PASSWORD, r"\1:" + REDACTED + "@"),
    # LWA access/refresh tokens and restricted data tokens: Atza|…, Atzr|…, Atz.sprdt|…
    (re.compile(r"Atz[a-z.]*\|[^\s\"'&,;}]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    # hvac / OpenBao service tokens (s.…, hvs.…) and our dev root token.
    (re.compile(r"\b(?:hvs|hvb|s)\.[A-Za-z0-9]{20,}"), REDACTED),
)


def _mask_named_value(match: re.Match[str]) -> str:
    if is_secret_name(match["name"]):
        return f"{match['name']}{match['sep']}{REDACTED}"
    # not a secret's name, but its value may hold one: error: password=…
    return match["name"] + match["sep"] + _NAMED_VALUE.sub(_mask_named_value, match["value"])


def redact_text(text: str) -> str:
    """Mask secret-looking values in free text: URL passwords, tokens, bearer credentials,
    values named like secrets (``password=…``, ``"client_secret": "…"``)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _NAMED_VALUE.sub(_mask_named_value, text)


def redact_value(value: Any, key: str | None = None) -> Any:
    """Mask secrets inside any JSON-like value; keys named like secrets are masked whole."""
    if key is not None and is_secret_name(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, msgspec.Struct) or is_dataclass(value):
        # A token response or settings object passed as a field: look inside it.
        value = msgspec.to_builtins(value, str_keys=True, enc_hook=repr)
    if isinstance(value, SplitResult | ParseResult):  # a parsed URL (nats-py's connected_url)
        value = value.geturl()
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value(v) for v in value]
    return value
