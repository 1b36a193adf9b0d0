"""Structured JSON logging that never prints a secret.

Redaction happens in the formatter, on the final text and on every extra
field, so a token slipped into a message, an exception or a library's own log
line is masked too.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from dataclasses import is_dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from keybuzz_shared.tracing import current_ids

REDACTED = "[REDACTED]"

SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "authorization",
        "x-amz-access-token",
        "x-internal-key",
        "x-vault-token",
        "token",
        "vault_token",
        "secret_id",
        "password",
        "restricteddatatoken",
        "restricted_data_token",
        "spapi_oauth_code",
        "jwt_secret",
        "internal_api_key",
    }
)
# Field names are compared without case or separators (refresh_token, refreshToken,
# Refresh-Token), and a name that ends with one of these (lwa_refresh_token,
# proxy_authorization) is a secret whatever its value looks like.
_SENSITIVE_SUFFIXES = (
    "accesstoken",
    "refreshtoken",
    "clientsecret",
    "authorization",
    "password",
    "secretid",
    "restricteddatatoken",
    "oauthcode",
    "apikey",
    "internalkey",
    "vaulttoken",
    "jwtsecret",
)
_SENSITIVE_NAMES = frozenset(re.sub(r"[^a-z0-9]", "", k) for k in SENSITIVE_KEYS)


def is_sensitive_key(key: str) -> bool:
    """A field named like a secret is masked whole, even when its value looks harmless."""
    name = re.sub(r"[^a-z0-9]", "", key.lower())
    return name in _SENSITIVE_NAMES or name.endswith(_SENSITIVE_SUFFIXES)


_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # LWA access/refresh tokens and restricted data tokens: Atza|…, Atzr|…, Atz.sprdt|…
    (re.compile(r"Atz[a-z.]*\|[^\s\"'&,;}]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)([\"']?(?:access_token|refresh_token|client_secret|secret_id|"
            r"password|token|spapi_oauth_code|restrictedDataToken)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"'&,;}]+"
        ),
        r"\1" + REDACTED,
    ),
    # hvac / OpenBao service tokens (s.…, hvs.…) and our dev root token.
    (re.compile(r"\b(?:hvs|hvb|s)\.[A-Za-z0-9]{20,}"), REDACTED),
)

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, key: str | None = None) -> Any:
    """Mask secrets inside any JSON-like value; keys named like secrets are masked whole."""
    if key is not None and is_sensitive_key(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, msgspec.Struct) or is_dataclass(value):
        # A token response or settings object passed as a field: look inside it.
        value = msgspec.to_builtins(value, str_keys=True, enc_hook=repr)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        if ids := current_ids():  # the HTTP request's or the event's trace (tracing.py)
            entry["trace_id"], entry["span_id"] = ids
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = redact_value(value, key)
        if record.exc_info:
            entry["error"] = redact_text("".join(traceback.format_exception(*record.exc_info)))
        return msgspec.json.encode(entry).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, FastStream's) through the JSON formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "nats"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # hvac and httpx log request URLs at DEBUG; keep them quiet unless asked.
    for name in ("httpx", "httpcore", "hvac", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
