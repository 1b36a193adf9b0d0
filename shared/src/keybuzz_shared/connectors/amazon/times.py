"""Amazon's timestamps: ISO 8601 in UTC, to the second, with a ``Z``."""

from __future__ import annotations

from datetime import datetime

from keybuzz_shared.times import as_utc


def amazon_time(moment: datetime) -> str:
    """``2026-11-22T08:00:00Z`` for any aware moment; a naive one is taken as UTC."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_amazon_time(text: str) -> datetime:
    """An Amazon timestamp (``…Z`` or with an offset) as an aware datetime in UTC."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
