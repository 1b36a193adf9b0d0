"""Structured JSON logging that never prints a secret.

Redaction happens in the formatter, on the final text and on every extra
field (``redaction.redact_text``/``redact_value``), so a token or a URL's
password slipped into a message, an exception or a library's own log line is
masked too.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import msgspec

from keybuzz_shared.redaction import redact_text, redact_value
from keybuzz_shared.tracing import current_ids

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


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
        if record.stack_info:
            entry["stack"] = redact_text(record.stack_info)
        return msgspec.json.encode(entry).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, nats-py's) through the JSON formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "nats"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # hvac and httpx log request URLs at DEBUG; keep them quiet unless asked.
    for name in ("httpx", "httpcore", "hvac", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
