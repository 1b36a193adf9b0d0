"""What polling's use cases return: a poll's counts, a tenant's poll status (domain values;
``schemas.py`` gives them their HTTP shape)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class PollResult(msgspec.Struct, kw_only=True):
    tenant_id: str
    fetched: int
    stored: int
    duplicates: int
    unparsed: int


class PollStatus(msgspec.Struct, kw_only=True):
    tenant_id: str
    scheduled: bool  # False: no enabled inbound address has been seen for the tenant
    polling: bool = False  # leased, and the lease has not expired
    next_poll_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    messages_fetched: int = 0
    lag_seconds: float | None = None  # since the last successful poll
