"""Reports API 2021-06-30: createReport, getReport, getReportDocument, and the
pre-signed document download that stands in for Amazon's S3 URL."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import msgspec
from keybuzz_sandbox.clock import iso, parse_iso
from keybuzz_sandbox.double_kit.admin import settings_handlers
from keybuzz_sandbox.double_kit.model_structs import model_structs
from keybuzz_sandbox.double_kit.presigned import s3_error
from litestar import Request, Response, get
from litestar.params import FromPath

from .double import AmazonDouble
from .errors import invalid_input, not_found
from .listing import amount, check_marketplaces, line_cents, vat_part
from .models import model_document
from .order_book import OrderBook, OrderQuery, OrderState
from .report_store import ReportFailures, ReportRecord
from .seed import ItemFacts
from .spapi import Answer, CallContext

QUEUE_SECONDS = 30.0  # Amazon seconds spent IN_QUEUE, then IN_PROGRESS for PROCESSING_SECONDS
PROCESSING_SECONDS = 60.0
URL_LIFETIME = 300.0  # "This URL expires after 5 minutes."
MIN_URL_LIFETIME_REAL = 30.0  # never shorter in real time, so high time scales stay usable
BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# The columns as written: the documented ones in Amazon's order, and three of the columns
# Amazon adds over time (EXTRA_COLUMNS) where it puts them (the by-last-update report puts
# last-updated-date second): clients read them by header name.
COLUMNS = tuple(
    """amazon-order-id merchant-order-id purchase-date last-updated-date order-status
    fulfillment-channel sales-channel order-channel ship-service-level product-name sku asin
    item-status quantity currency item-price item-tax shipping-price shipping-tax
    gift-wrap-price gift-wrap-tax item-promotion-discount ship-promotion-discount ship-city
    ship-state ship-postal-code ship-country item-extensions-data promotion-ids
    is-business-order is-iba purchase-order-number price-designation
    signature-confirmation-recommended""".split()
)
# The flat-file reports use their own status words, not the API's: (order-status, item-status).
FLAT_STATUSES = {
    "Pending": ("Pending", "Unshipped"),
    "Unshipped": ("Shipping", "Unshipped"),
    "Shipped": ("Shipped", "Shipped"),
    "Canceled": ("Cancelled", "Cancelled"),
}
_ids = itertools.count(50_001_019_000)


# getReport's answer: the model's own definition (every field it names, none other).
(Report,) = model_structs(model_document("reports")["definitions"], "Report")


def listing(record: ReportRecord) -> OrderQuery:
    """The report's orders, as they stood `lag` before processing finished:
    order reports trail the live data further than the listings."""
    seen = record.finished - record.lag
    upper = min(record.data_end, seen)
    if record.report_type == BY_LAST_UPDATE:
        return OrderQuery(snapshot=seen, updated_after=record.data_start, updated_before=upper)
    return OrderQuery(snapshot=seen, created_after=record.data_start, created_before=upper)


# --- operations ----------------------------------------------------------------


async def create_report(ctx: CallContext) -> Answer:
    book = ctx.book()
    spec = ctx.body  # checked against the model's CreateReportSpecification
    if spec["reportType"] not in (BY_ORDER_DATE, BY_LAST_UPDATE):
        raise invalid_input(f"Report type {spec['reportType']} is not supported.")
    sells_there = check_marketplaces(spec["marketplaceIds"], book)
    try:
        start, end = (
            parse_iso(spec[n]) if spec.get(n) else ctx.now for n in ("dataStartTime", "dataEndTime")
        )
    except ValueError:
        raise invalid_input("dataStartTime and dataEndTime must be ISO 8601 date-times.") from None
    if start > end:
        raise invalid_input("dataStartTime must be before dataEndTime.")
    if end > ctx.now + 1:
        raise invalid_input("dataEndTime must be prior to or equal to the current date and time.")
    clock = ctx.sandbox.clock
    started = ctx.now + clock.real_duration(QUEUE_SECONDS)
    record = ReportRecord(
        report_id=str(next(_ids)),
        seller_id=book.seller_id,
        report_type=spec["reportType"],
        marketplace_ids=spec["marketplaceIds"],
        data_start=start,
        data_end=end,
        created=ctx.now,
        started=started,
        finished=started + clock.real_duration(PROCESSING_SECONDS),
        lag=clock.real_duration(ctx.sandbox.settings.report_lag_seconds),
        document_id=f"amzn1.spdoc.1.4.{book.gen.marketplace.region}.{uuid.uuid4()}",
    )
    if not sells_there:
        record.has_data = False  # nothing to report: Amazon cancels such reports
    ctx.sandbox.reports.add(record)
    if record.has_data is not False and record.forced_end is None:
        _write_while_processing(ctx.sandbox, record)
    return Answer(202, {"reportId": record.report_id})


def _write_while_processing(sb: AmazonDouble, record: ReportRecord) -> None:
    """getReportDocument serves a document at once, as Amazon's: rendered in a worker thread
    while the report processes, once its data is fixed (``finished - lag``), not on first
    download (3,300 orders take ~0.8 s here)."""

    async def write() -> bytes:
        ready_at = max(record.started, record.finished - record.lag)
        # A timer armed from a loop's cached time (uvloop's, in whole milliseconds) may
        # fire before it is due by the clock: a time, not an event, is awaited.
        while (now := sb.clock.now()) < ready_at:  # noqa: ASYNC110
            await asyncio.sleep(ready_at - now)
        record.writing_began = now
        return await asyncio.to_thread(write_document, sb, record)

    record.writing = asyncio.get_running_loop().create_task(write())


async def written(record: ReportRecord) -> bytes:
    """The document, once the background write has it (a loaded machine may still be at it
    when the report is DONE): awaited, never rendered on the event loop."""
    assert record.writing is not None  # a DONE report's is written while it processes
    return await asyncio.shield(record.writing)


def _own_report(ctx: CallContext, report_id: str) -> ReportRecord:
    """The caller's report, whether it has data known once it finished processing."""
    book = ctx.book()
    record = ctx.sandbox.reports.reports.get(report_id)
    if record is None or record.seller_id != book.seller_id:
        raise not_found(f"Report {report_id} was not found.")
    if record.has_data is None and ctx.now >= record.finished:
        first, _ = book.page(msgspec.structs.replace(listing(record), page_size=1))
        record.has_data = bool(first)
    return record


async def get_report(ctx: CallContext) -> Answer:
    record = _own_report(ctx, ctx.path_params["reportId"])
    status = record.status(ctx.now)
    if status == "DONE":
        await written(record)
    # FATAL: no document (Amazon's is optional and explains the error).
    return Answer(
        200,
        Report(
            reportId=record.report_id,
            reportType=record.report_type,
            marketplaceIds=record.marketplace_ids,
            dataStartTime=iso(record.data_start),
            dataEndTime=iso(record.data_end),
            createdTime=iso(record.created),
            processingStatus=status,
            processingStartTime=None if status == "IN_QUEUE" else iso(record.started),
            processingEndTime=iso(record.finished) if status in ("DONE", "CANCELLED") else None,
            reportDocumentId=record.document_id if status == "DONE" else None,
        ),
    )


async def get_report_document(ctx: CallContext) -> Answer:
    sb = ctx.sandbox
    document_id = ctx.path_params["reportDocumentId"]
    record = _own_report(ctx, sb.reports.by_document.get(document_id, ""))
    if record.status(ctx.now) != "DONE":  # also a FATAL/CANCELLED report's would-be id
        raise not_found(f"Report document {document_id} was not found.")
    await written(record)
    expires = max(round(sb.clock.real_duration(URL_LIFETIME)), int(MIN_URL_LIFETIME_REAL))
    query = sb.documents.query(document_id, ctx.now, expires)
    body: dict[str, object] = {
        "reportDocumentId": document_id,
        "url": f"{sb.config.public_url}/_sandbox/documents/{document_id}?{query}",
    }
    # Amazon sometimes omits compressionAlgorithm for gzipped content: clients
    # must look at the bytes (SANDBOX_REPORT_GZIP_DECLARATION=omit reproduces it).
    if record.gzipped and sb.settings.report_gzip_declaration == "declare":
        body["compressionAlgorithm"] = "GZIP"
    return Answer(200, body)


IMPLEMENTATIONS = {
    "reports.createReport": create_report,
    "reports.getReport": get_report,
    "reports.getReportDocument": get_report_document,
}


# --- the document itself ----------------------------------------------------------

EXTRA_COLUMNS = {
    "is-iba": "false",
    "item-extensions-data": "",
    "signature-confirmation-recommended": "false",
}


def columns(report_type: str) -> tuple[str, ...]:
    if report_type != BY_LAST_UPDATE:
        return COLUMNS
    return (COLUMNS[0], "last-updated-date", *(c for c in COLUMNS[1:] if c != "last-updated-date"))


def _money_columns(book: OrderBook, state: OrderState, item: ItemFacts) -> dict[str, str]:
    """An item's amounts, empty on a cancelled order."""
    vat, price = book.gen.marketplace.vat_rate, line_cents(item)
    amounts = {
        "item-price": amount(price),
        "item-tax": amount(vat_part(price, vat)),
        "shipping-price": amount(item.shipping_cents),
        "shipping-tax": amount(vat_part(item.shipping_cents, vat)),
        "gift-wrap-price": "",
        "gift-wrap-tax": "",
        "item-promotion-discount": "0.00",
        "ship-promotion-discount": "0.00",
    }
    return dict.fromkeys(amounts, "") if state.status == "Canceled" else amounts


def _rows(book: OrderBook, state: OrderState) -> Iterator[dict[str, str]]:
    facts, market = state.facts, book.gen.marketplace
    address, (order_status, item_status) = facts.address, FLAT_STATUSES[state.status]
    for item in facts.items:
        yield {
            "amazon-order-id": facts.order_id,
            "merchant-order-id": facts.order_id,
            "purchase-date": iso(state.purchase_date).replace("Z", "+00:00"),
            "last-updated-date": iso(state.last_update).replace("Z", "+00:00"),
            "order-status": order_status,
            "fulfillment-channel": "Amazon" if facts.timeline.channel == "AFN" else "Merchant",
            "sales-channel": market.name,
            "order-channel": "",
            "ship-service-level": facts.service_category,
            "product-name": item.product.title,
            "sku": item.product.sku,
            "asin": item.product.asin,
            "item-status": item_status,
            "quantity": str(state.quantity(item.quantity)),
            "currency": market.currency,
            **_money_columns(book, state, item),
            "ship-city": address.city,
            "ship-state": address.state,
            "ship-postal-code": address.postal_code,
            "ship-country": address.country_code,
            "promotion-ids": "",
            "is-business-order": "true" if facts.is_business else "false",
            "purchase-order-number": "",
            "price-designation": "",
            **EXTRA_COLUMNS,
        }


def charset(book: OrderBook) -> str:
    """EU flat files in Windows-1252 (Cp1252: Amazon's name, Python's codec), others UTF-8."""
    return "Cp1252" if book.gen.marketplace.region == "eu" else "UTF-8"


def write_document(sb: AmazonDouble, record: ReportRecord) -> bytes:
    """Rendered once (its one background write): the compression getReportDocument states
    must match the bytes."""
    book, names = sb.sellers[record.seller_id], columns(record.report_type)
    lines = ["\t".join(names)]
    for state in book.all(listing(record)):
        for row in _rows(book, state):
            lines.append("\t".join(row[n].replace("\t", " ") for n in names))
    data = ("\r\n".join(lines) + "\r\n").encode(charset(book), errors="replace")
    record.gzipped = len(data) > sb.settings.report_gzip_min_bytes
    record.document = gzip.compress(data, mtime=0) if record.gzipped else data
    return record.document


def report_admin_routes(sb: AmazonDouble) -> list[Any]:
    """The pre-signed document download, and the admin switch for failing reports."""

    @get("/documents/{document_id:str}")
    async def download(
        document_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        problem = sb.documents.refusal(document_id, query, sb.clock.now())
        if problem is not None:
            return problem
        record = sb.reports.reports.get(sb.reports.by_document.get(document_id, ""))
        if record is None or record.writing is None:  # a report that writes none
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        book = sb.sellers[record.seller_id]
        # Set as a header: Litestar would append its own "; charset=utf-8" to text/*.
        content_type = f"text/plain;charset={charset(book)}"
        return Response(await written(record), headers={"content-type": content_type})

    write = partial(setattr, sb.reports, "failures")
    failures = settings_handlers(
        "/reports/failures", ReportFailures, lambda: sb.reports.failures, write
    )
    return [download, *failures]
