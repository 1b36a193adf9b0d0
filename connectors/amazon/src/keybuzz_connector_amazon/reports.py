"""Reports API 2021-06-30 client: request a report, wait for it, stream its document.

Built on :class:`~keybuzz_connector_amazon.spapi.SpApiClient`, so a report call is metered
and retried like any other SP-API call. The document is streamed, never held whole:
its pre-signed URL (5 minutes) is fetched right before the download and never logged;
gzip is detected by its bytes as well as ``compressionAlgorithm`` (Amazon sometimes
gzips without saying so); the charset comes from ``Content-Type`` (EU flat files are
``Cp1252``) and is decoded incrementally; flat-file rows are dicts keyed by column
name, because Amazon adds columns.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from keybuzz_shared.errors import DependencyUnavailable

from keybuzz_connector_amazon.spapi import SpApiClient
from keybuzz_connector_amazon.times import amazon_time

REPORTS_PATH = "/reports/2021-06-30"
ORDERS_BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
DONE = "DONE"
FAILED_STATUSES = frozenset({"CANCELLED", "FATAL"})
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 64 * 1024
# Amazon's charset names that Python spells differently.
_CHARSETS = {"cp1252": "cp1252", "windows-1252": "cp1252", "utf8": "utf-8"}


class ReportDownloadFailed(DependencyUnavailable):
    """The document could not be read (expired URL, network, corrupt gzip): fetch it again."""


class _Model(msgspec.Struct, rename="camel", kw_only=True):
    pass


class _CreateReportBody(_Model):
    report_id: str


class Report(_Model):
    report_id: str
    report_type: str
    processing_status: str  # IN_QUEUE | IN_PROGRESS | DONE | CANCELLED | FATAL
    report_document_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.processing_status == DONE or self.processing_status in FAILED_STATUSES


class ReportDocument(_Model):
    report_document_id: str
    url: str
    compression_algorithm: str | None = None


@dataclass(frozen=True)
class Reply:
    value: Any
    rate_limit_waits: int


class ReportsClient:
    """createReport / getReport / getReportDocument and the document download."""

    def __init__(self, spapi: SpApiClient, *, timeout: float = 120.0) -> None:
        self.spapi = spapi
        self._timeout = timeout

    async def create_report(
        self,
        tenant_id: str,
        report_type: str,
        marketplace_ids: Sequence[str],
        start: datetime,
        end: datetime | None,
    ) -> Reply:
        body: dict[str, Any] = {
            "reportType": report_type,
            "marketplaceIds": list(marketplace_ids),
            "dataStartTime": amazon_time(start),
        }
        if end is not None:
            body["dataEndTime"] = amazon_time(end)
        created, waits = await self.spapi.request(
            tenant_id,
            "createReport",
            f"{REPORTS_PATH}/reports",
            _CreateReportBody,
            method="POST",
            json_body=body,
        )
        return Reply(created.report_id, waits)

    async def get_report(self, tenant_id: str, report_id: str) -> Reply:
        path = f"{REPORTS_PATH}/reports/{quote(report_id, safe='')}"
        report, waits = await self.spapi.request(tenant_id, "getReport", path, Report)
        return Reply(report, waits)

    async def get_report_document(self, tenant_id: str, document_id: str) -> Reply:
        path = f"{REPORTS_PATH}/documents/{quote(document_id, safe='')}"
        document, waits = await self.spapi.request(
            tenant_id, "getReportDocument", path, ReportDocument
        )
        return Reply(document, waits)

    async def rows(self, document: ReportDocument) -> AsyncIterator[dict[str, str]]:
        """The flat file's rows by column name, streamed (gzip and charset handled)."""
        header: list[str] | None = None
        async for line in self._lines(document):
            if not line:
                continue
            cells = line.split("\t")
            if header is None:
                header = [c.strip() for c in cells]
                continue
            yield dict(zip(header, cells, strict=False))

    async def _lines(self, document: ReportDocument) -> AsyncIterator[str]:
        try:
            async with self.spapi.http.stream(
                "GET", document.url, timeout=self._timeout
            ) as response:
                if response.status_code != 200:
                    # S3 answers XML errors (403 "Request has expired"); the URL stays out
                    # of the message: it is a credential until it expires.
                    raise ReportDownloadFailed(
                        f"report document download answered {response.status_code}"
                    )
                decoder = _Decoder(response.headers.get("content-type", ""), document)
                async for chunk in response.aiter_raw(CHUNK):
                    for line in decoder.feed(chunk):
                        yield line
                for line in decoder.close():
                    yield line
        except (httpx.TransportError, zlib.error, UnicodeDecodeError, LookupError) as exc:
            raise ReportDownloadFailed(
                f"report document could not be read: {type(exc).__name__}"
            ) from None


class _Decoder:
    """bytes → (gunzip when gzip) → text in the document's charset → lines."""

    def __init__(self, content_type: str, document: ReportDocument) -> None:
        self._declared_gzip = (document.compression_algorithm or "").upper() == "GZIP"
        self._gunzip: Any = None
        self._sniffed = False
        self._head = b""
        self._text = codecs.getincrementaldecoder(_charset(content_type))(errors="strict")
        self._pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        if not self._sniffed:
            self._head += chunk
            if len(self._head) < len(GZIP_MAGIC):
                return []
            chunk, self._head, self._sniffed = self._head, b"", True
            if self._declared_gzip or chunk.startswith(GZIP_MAGIC):
                self._gunzip = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        data = self._gunzip.decompress(chunk) if self._gunzip else chunk
        return self._split(self._text.decode(data))

    def close(self) -> list[str]:
        data = self._head
        if self._gunzip is not None:
            data = self._gunzip.decompress(data) + self._gunzip.flush()
            if not self._gunzip.eof:
                raise zlib.error("truncated gzip stream")
        lines = self._split(self._text.decode(data, final=True))
        if self._pending:
            lines.append(self._pending.rstrip("\r"))
            self._pending = ""
        return lines

    def _split(self, text: str) -> list[str]:
        text = self._pending + text
        *lines, self._pending = text.split("\n")
        return [line.rstrip("\r") for line in lines]


def _charset(content_type: str) -> str:
    """``text/plain;charset=Cp1252`` → ``cp1252``; UTF-8 when none is given."""
    for part in content_type.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            value = value.strip().strip('"').lower()
            return _CHARSETS.get(value, value)
    return "utf-8"
