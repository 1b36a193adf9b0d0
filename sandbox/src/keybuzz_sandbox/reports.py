"""Reports API 2021-06-30: createReport, getReport, getReportDocument, and the
pre-signed document download that stands in for Amazon's S3 URL."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlencode

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, QueryParameter

from .clock import iso, parse_iso
from .errors import invalid_input, not_found
from .listing import amount, line_cents, vat_part
from .marketplaces import MARKETPLACES
from .order_book import OrderBook, OrderQuery, OrderState
from .report_store import ReportRecord
from .sandbox import Sandbox
from .spapi import CallContext, Reply

QUEUE_SECONDS = 30.0  # Amazon seconds spent IN_QUEUE, then IN_PROGRESS for PROCESSING_SECONDS
PROCESSING_SECONDS = 60.0
URL_LIFETIME = 300.0  # "This URL expires after 5 minutes."
MIN_URL_LIFETIME_REAL = 30.0  # never shorter in real time, so high time scales stay usable
BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SUPPORTED = (BY_ORDER_DATE, BY_LAST_UPDATE)
COLUMNS = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
)
# The flat-file reports use their own status words, not the API's.
ORDER_STATUS = {
    "Pending": "Pending",
    "Unshipped": "Shipping",
    "Shipped": "Shipped",
    "Canceled": "Cancelled",
}
ITEM_STATUS = {
    "Pending": "Unshipped",
    "Unshipped": "Unshipped",
    "Shipped": "Shipped",
    "Canceled": "Cancelled",
}
_ids = itertools.count(50_001_019_000)


class ReportSpec(msgspec.Struct, kw_only=True):
    reportType: str  # noqa: N815 - Amazon's field names
    marketplaceIds: list[str]  # noqa: N815
    dataStartTime: str | None = None  # noqa: N815
    dataEndTime: str | None = None  # noqa: N815
    reportOptions: dict[str, str] | None = None  # noqa: N815


def listing(record: ReportRecord) -> OrderQuery:
    """The report's orders, as they stood when processing finished."""
    upper = min(record.data_end, record.finished)
    if record.report_type == BY_LAST_UPDATE:
        return OrderQuery(
            snapshot=record.finished, updated_after=record.data_start, updated_before=upper
        )
    return OrderQuery(
        snapshot=record.finished, created_after=record.data_start, created_before=upper
    )


# --- operations ----------------------------------------------------------------


def _times(spec: ReportSpec, now: float) -> tuple[float, float]:
    try:
        start = parse_iso(spec.dataStartTime) if spec.dataStartTime else now
        end = parse_iso(spec.dataEndTime) if spec.dataEndTime else now
    except ValueError:
        raise invalid_input("dataStartTime and dataEndTime must be ISO 8601 date-times.") from None
    if start > end:
        raise invalid_input("dataStartTime must be before dataEndTime.")
    if end > now + 1:
        raise invalid_input("dataEndTime must be prior to or equal to the current date and time.")
    return start, end


async def create_report(ctx: CallContext) -> Reply:
    book = ctx.book()
    spec = msgspec.convert(ctx.body, ReportSpec)
    if spec.reportType not in SUPPORTED:
        raise invalid_input(f"Report type {spec.reportType} is not supported.")
    unknown = [m for m in spec.marketplaceIds if m not in MARKETPLACES]
    if unknown:
        raise invalid_input(f"Invalid marketplace identifier(s): {', '.join(unknown)}.")
    start, end = _times(spec, ctx.now)
    clock = ctx.sandbox.clock
    started = ctx.now + clock.real_duration(QUEUE_SECONDS)
    record = ReportRecord(
        report_id=str(next(_ids)),
        seller_id=book.seller_id,
        report_type=spec.reportType,
        marketplace_ids=spec.marketplaceIds,
        data_start=start,
        data_end=end,
        created=ctx.now,
        started=started,
        finished=started + clock.real_duration(PROCESSING_SECONDS),
        document_id=f"amzn1.spdoc.1.4.{book.gen.marketplace.region}.{uuid.uuid4()}",
    )
    if book.gen.spec.marketplace_id not in spec.marketplaceIds:
        record.has_data = False  # nothing to report: Amazon cancels such reports
    ctx.sandbox.reports.add(record)
    return Reply({"reportId": record.report_id}, status=202)


def _own_report(ctx: CallContext, report_id: str) -> ReportRecord:
    record = ctx.sandbox.reports.reports.get(report_id)
    if record is None or record.seller_id != ctx.principal.seller_id:
        raise not_found(f"Report {report_id} was not found.")
    return record


def _settle(book: OrderBook, record: ReportRecord, now: float) -> None:
    if record.has_data is None and now >= record.finished:
        first, _ = book.page(msgspec.structs.replace(listing(record), page_size=1))
        record.has_data = bool(first)


async def get_report(ctx: CallContext) -> Reply:
    book = ctx.book()
    record = _own_report(ctx, ctx.path_params["reportId"])
    _settle(book, record, ctx.now)
    status = record.status(ctx.now)
    body: dict[str, object] = {
        "reportId": record.report_id,
        "reportType": record.report_type,
        "marketplaceIds": record.marketplace_ids,
        "dataStartTime": iso(record.data_start),
        "dataEndTime": iso(record.data_end),
        "createdTime": iso(record.created),
        "processingStatus": status,
    }
    if status != "IN_QUEUE":
        body["processingStartTime"] = iso(record.started)
    if status in ("DONE", "CANCELLED"):
        body["processingEndTime"] = iso(record.finished)
    if status == "DONE":
        body["reportDocumentId"] = record.document_id
    return Reply(body)


def _signature_payload(document_id: str, expires: int) -> str:
    return f"{document_id}|{expires}"


async def get_report_document(ctx: CallContext) -> Reply:
    book = ctx.book()
    sb = ctx.sandbox
    document_id = ctx.path_params["reportDocumentId"]
    record = _own_report(ctx, sb.reports.by_document.get(document_id, ""))
    _settle(book, record, ctx.now)
    if record.status(ctx.now) != "DONE":
        raise not_found(f"Report document {document_id} was not found.")
    expires = int(ctx.now + max(sb.clock.real_duration(URL_LIFETIME), MIN_URL_LIFETIME_REAL))
    query = urlencode(
        {
            "X-Amz-Expires": expires,
            "X-Amz-Signature": sb.signer.mac(_signature_payload(document_id, expires)),
        }
    )
    url = f"{sb.config.public_url}/_sandbox/documents/{document_id}?{query}"
    return Reply({"reportDocumentId": document_id, "url": url})


IMPLEMENTATIONS = {
    "reports.createReport": create_report,
    "reports.getReport": get_report,
    "reports.getReportDocument": get_report_document,
}


# --- the document itself ----------------------------------------------------------


def _row(book: OrderBook, state: OrderState) -> Iterator[str]:
    facts, market = state.facts, book.gen.marketplace
    priced = state.status != "Canceled"
    address = facts.address
    for item in facts.items:
        price = line_cents(item)
        money = (
            amount(price),
            amount(vat_part(price, market.vat_rate)),
            amount(item.shipping_cents),
            amount(vat_part(item.shipping_cents, market.vat_rate)),
            "",
            "",
            "0.00",
            "0.00",
        )
        values = (
            facts.order_id,
            facts.order_id,
            iso(state.purchase_date).replace("Z", "+00:00"),
            iso(state.last_update).replace("Z", "+00:00"),
            ORDER_STATUS[state.status],
            "Amazon" if facts.timeline.channel == "AFN" else "Merchant",
            market.name,
            "",
            "Expedited" if facts.ship_service_level.startswith("Exp") else "Standard",
            item.product.title,
            item.product.sku,
            item.product.asin,
            ITEM_STATUS[state.status],
            str(state.quantity(item.quantity)),
            market.currency,
            *(money if priced else ("",) * len(money)),
            address.city,
            address.state,
            address.postal_code,
            address.country_code,
            "",
            "true" if facts.is_business else "false",
            "",
            "",
        )
        yield "\t".join(v.replace("\t", " ") for v in values)


def render_document(book: OrderBook, record: ReportRecord) -> str:
    lines = ["\t".join(COLUMNS)]
    for state in book.all(listing(record)):
        lines.extend(_row(book, state))
    return "\r\n".join(lines) + "\r\n"


def document_route(sb: Sandbox) -> HTTPRouteHandler:
    @get("/_sandbox/documents/{document_id:str}", include_in_schema=False, sync_to_thread=False)
    def download(
        document_id: FromPath[str],
        expires: Annotated[int | None, QueryParameter(name="X-Amz-Expires")] = None,
        signature: Annotated[str | None, QueryParameter(name="X-Amz-Signature")] = None,
    ) -> Response[str]:
        valid = (
            expires is not None
            and signature is not None
            and sb.signer.verify_mac(_signature_payload(document_id, expires), signature)
        )
        if not valid or expires is None or expires < sb.clock.now():
            return Response(
                "Request has expired or its signature does not match.",
                status_code=403,
                media_type="text/plain",
            )
        record = sb.reports.reports.get(sb.reports.by_document.get(document_id, ""))
        if record is None:
            return Response(
                "The specified key does not exist.", status_code=404, media_type="text/plain"
            )
        book = sb.sellers[record.seller_id]
        return Response(
            render_document(book, record), media_type="text/tab-separated-values; charset=UTF-8"
        )

    return download
