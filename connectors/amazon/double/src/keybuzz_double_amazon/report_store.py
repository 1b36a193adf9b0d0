"""Reports requested by sellers (in memory: reports are short-lived)."""

from __future__ import annotations

import asyncio

import msgspec
from keybuzz_sandbox.faults import NextCount


class ReportRecord(msgspec.Struct, kw_only=True):
    report_id: str
    seller_id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: float
    data_end: float
    created: float
    started: float  # real times derived from the scaled durations
    finished: float
    document_id: str
    lag: float = 0.0  # real seconds the report's data trails `finished`
    has_data: bool | None = None
    document: bytes | None = None  # rendered (and maybe gzipped) once, then served as is
    writing_began: float | None = None  # the double's clock when rendering it began
    writing: asyncio.Task[bytes] | None = None  # the background write (reports.py)
    gzipped: bool = False
    # Set by the admin endpoint (PUT /_sandbox/reports/failures): how processing ends.
    forced_end: str | None = None  # FATAL | CANCELLED | IN_PROGRESS (stalled for good)

    def status(self, now: float) -> str:
        if now < self.started:
            return "IN_QUEUE"
        if now < self.finished or self.forced_end == "IN_PROGRESS":
            return "IN_PROGRESS"
        if self.forced_end:
            return self.forced_end
        return "DONE" if self.has_data else "CANCELLED"


class ReportFailures(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/reports/failures: the next reports requested end this way."""

    fatal_next: NextCount = 0
    cancel_next: NextCount = 0
    stall_next: NextCount = 0  # never leave IN_PROGRESS (a client's deadline can be tested)


# Each counter of ReportFailures, first come first served, and the end it forces.
FORCED_ENDS = {"fatal_next": "FATAL", "cancel_next": "CANCELLED", "stall_next": "IN_PROGRESS"}


class ReportStore:
    def __init__(self) -> None:
        self.reports: dict[str, ReportRecord] = {}
        self.by_document: dict[str, str] = {}
        self.failures = ReportFailures()

    def add(self, record: ReportRecord) -> None:
        for counter, end in FORCED_ENDS.items():
            if getattr(self.failures, counter) > 0:
                setattr(self.failures, counter, getattr(self.failures, counter) - 1)
                record.forced_end = end
                break
        self.reports[record.report_id] = record
        self.by_document[record.document_id] = record.report_id
