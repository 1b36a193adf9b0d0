"""Amazon's timestamps: ISO 8601 in UTC, to the second, with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def amazon_time(moment: datetime) -> str:
    """``2026-11-22T08:00:00Z`` for any aware moment; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_amazon_time(text: str) -> datetime:
    """An Amazon timestamp (``…Z`` or with an offset) as an aware datetime in UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
