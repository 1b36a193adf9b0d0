"""What one stranger may cost the MX: its limits, the session count, their metrics and log line.

Every limit is a setting (``settings.py``, ``MX_*``; docs/SECURITY.md, "The MX's limits").
A limit hit is counted in ``keybuzz_poller_mx_limits_hit_total{limit=…}`` and logged at
WARNING with the client's IP address (never an envelope address): the first hit of a
limit at once, then at most one line per ``LOG_EVERY_SECONDS`` per limit, saying how many
hits it stands for (a flood of refused connections does not flood the logs).
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 10.0

# The ``limit`` label of keybuzz_poller_mx_limits_hit_total, one per guarantee.
SESSIONS_PER_INSTANCE = "sessions_per_instance"
SESSIONS_PER_CLIENT = "sessions_per_client"
IDLE_TIMEOUT = "idle_timeout"
SESSION_TIMEOUT = "session_timeout"
RECIPIENTS = "recipients"
MESSAGE_SIZE = "message_size"

SESSIONS = Gauge(
    "keybuzz_poller_mx_sessions",
    "SMTP sessions open on this instance's MX (refused connections are not counted).",
    ["service"],
)
LIMITS_HIT = Counter(
    "keybuzz_poller_mx_limits_hit",
    "MX limits hit, by limit: sessions_per_instance and sessions_per_client (421 at "
    "connect), idle_timeout and session_timeout (421, closed), recipients (452 at RCPT), "
    "message_size (552 after DATA).",
    ["service", "limit"],
)
DATA_BYTES_IN_FLIGHT = Gauge(
    "keybuzz_poller_mx_data_bytes_in_flight",
    "Bytes of the DATA transfers under way (spooled: memory holds at most "
    "MX_SPOOL_MEMORY_BYTES of each, the rest is in MX_SPOOL_DIR).",
    ["service"],
)


@dataclass(frozen=True)
class MxLimits:
    max_sessions: int
    max_sessions_per_client: int
    idle_timeout_seconds: float
    session_timeout_seconds: float
    max_recipients: int
    max_message_bytes: int
    spool_memory_bytes: int
    spool_dir: str | None = None


class SessionGate:
    """Counts the open sessions of one MX, in total and per client IP address, and its limit hits."""

    def __init__(self, service: str, limits: MxLimits) -> None:
        self.service = service
        self.limits = limits
        self.total = 0
        self.per_client: Tally[str] = Tally()
        self._unlogged: Tally[str] = Tally()  # hits since the limit's last log line
        self._logged_at: dict[str, float] = {}

    def hit(self, limit: str, client: str) -> None:
        LIMITS_HIT.labels(self.service, limit).inc()
        self._unlogged[limit] += 1
        now = time.monotonic()
        if now - self._logged_at.get(limit, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
            hits = self._unlogged.pop(limit)
            self._logged_at[limit] = now
            log.warning("MX limit hit", extra={"limit": limit, "client": client, "hits": hits})

    def enter(self, client: str) -> str | None:
        """Admits the session, or returns the limit it would exceed."""
        if self.total >= self.limits.max_sessions:
            return SESSIONS_PER_INSTANCE
        if self.per_client[client] >= self.limits.max_sessions_per_client:
            return SESSIONS_PER_CLIENT
        self.total += 1
        self.per_client[client] += 1
        SESSIONS.labels(self.service).inc()
        return None

    def leave(self, client: str) -> None:
        self.total -= 1
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]
        SESSIONS.labels(self.service).dec()
