"""Reports 2021-06-30: lifecycle and the order report document (served over a real socket)."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import re
import time
from collections import defaultdict
from datetime import datetime

import httpx
import msgspec
import pytest
import pytest_asyncio
from keybuzz_devstack.testing import eventually
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.sandbox import Sandbox
from keybuzz_sandbox.testing import running_sandbox
from sandbox_helpers import (
    FR,
    FR_SELLER,
    _validate_response,
    all_orders_v0,
    connect,
    headers,
    iso_ago,
    spapi_get,
)

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# Amazon's documented columns; the file may hold more, in any order.
DOCUMENTED = set(
    "amazon-order-id merchant-order-id purchase-date last-updated-date order-status fulfillment-channel "
    "sales-channel order-channel ship-service-level product-name sku asin item-status quantity currency "
    "item-price item-tax shipping-price shipping-tax gift-wrap-price gift-wrap-tax item-promotion-discount "
    "ship-promotion-discount ship-city ship-state ship-postal-code ship-country promotion-ids "
    "is-business-order purchase-order-number price-designation".split()
)


def document_text(meta: dict, response: httpx.Response) -> str:
    """What a client must do: gunzip when the bytes are gzip, decode by the charset."""
    data = response.content
    if meta.get("compressionAlgorithm") == "GZIP" or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    charset = response.headers["content-type"].split("charset=")[1]
    return data.decode("cp1252" if charset == "Cp1252" else charset)


@pytest_asyncio.fixture
async def live():
    # Scale 50: IN_QUEUE 0.6 s, IN_PROGRESS 1.2 s.
    async with (
        running_sandbox(SandboxConfig(time_scale=50)) as base_url,
        httpx.AsyncClient(
            base_url=base_url, event_hooks={"response": [_validate_response]}
        ) as client,
    ):
        yield client


async def _create(client, token: str, start: str):
    return await client.post(
        "/reports/2021-06-30/reports",
        headers=headers(token),
        json={
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "marketplaceIds": [FR],
            "dataStartTime": start,
        },
    )


STATES = ["IN_QUEUE", "IN_PROGRESS", "DONE"]


async def test_report_moves_through_states_and_document_matches_orders(live) -> None:
    token = (await connect(live))["access_token"]
    start = iso_ago(days=90)
    created = await _create(live, token, start)
    assert created.status_code == 202
    report_id = created.json()["reportId"]
    statuses: list[str] = []

    async def done() -> dict | None:  # up to the test's limit: 40 polls were a 4 s window
        report = (await spapi_get(live, f"/reports/2021-06-30/reports/{report_id}", token)).json()
        if not statuses or statuses[-1] != report["processingStatus"]:
            statuses.append(report["processingStatus"])
        return report if report["processingStatus"] == "DONE" else None

    report = await eventually(done, within=None)
    # The states seen are in Amazon's order; a loaded machine's poll may step over the 0.6 s
    # queue or the 1.2 s processing, which the report's own times (whole seconds) then show.
    assert statuses == sorted(statuses, key=STATES.index) and statuses[-1] == "DONE"
    created, began, ended = (
        datetime.fromisoformat(report[f"{step}Time"])
        for step in ("created", "processingStart", "processingEnd")
    )
    assert created <= began < ended, report
    assert report["reportType"] == "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
    document = await spapi_get(
        live, f"/reports/2021-06-30/documents/{report['reportDocumentId']}", token
    )
    meta = document.json()
    url = meta["url"]
    assert url.startswith(str(live.base_url).rstrip("/"))
    async with httpx.AsyncClient() as plain:  # a pre-signed URL: no SP-API token
        content = await plain.get(url)
        forged = await plain.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=x"))
    assert content.status_code == 200 and forged.status_code == 403
    text = document_text(meta, content)
    assert DOCUMENTED <= set(text.splitlines()[0].split("\t"))
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    by_order = defaultdict(list)
    for row in rows:
        by_order[row["amazon-order-id"]].append(row)
    orders = await all_orders_v0(live, token, CreatedAfter=start)
    assert set(by_order) == {o["AmazonOrderId"] for o in orders} and len(by_order) == 94
    cancelled = [rows for rows in by_order.values() if rows[0]["order-status"] == "Cancelled"]
    assert len(cancelled) == 6 and all(
        r["quantity"] == "0" and r["item-price"] == "" for rs in cancelled for r in rs
    )
    for order in orders:
        first = by_order[order["AmazonOrderId"]][0]
        assert first["purchase-date"] == order["PurchaseDate"].replace("Z", "+00:00")
        assert (
            first["currency"] == "EUR"
            and first["sales-channel"] == "Amazon.fr"
            and first["ship-country"] == "FR"
        )


async def test_document_of_another_seller_or_unfinished_report_is_not_found(live) -> None:
    fr_token = (await connect(live))["access_token"]
    de_token = (await connect(live, "A3DESELLERBENCH"))["access_token"]
    report_id = (await _create(live, fr_token, iso_ago(days=5))).json()["reportId"]
    assert (
        await live.get(f"/reports/2021-06-30/reports/{report_id}", headers=headers(de_token))
    ).status_code == 404
    assert (
        await live.get(
            "/reports/2021-06-30/documents/amzn1.spdoc.1.4.eu.nope", headers=headers(fr_token)
        )
    ).status_code == 404


async def test_create_report_validates_body_against_the_model(live) -> None:
    token = (await connect(live))["access_token"]
    bad_bodies = [
        {
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
        },  # marketplaceIds required
        {
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "marketplaceIds": [],
        },  # minItems 1
        {"reportType": 42, "marketplaceIds": [FR]},
        {"reportType": "GET_SOMETHING_ELSE", "marketplaceIds": [FR]},
    ]
    for body in bad_bodies:
        response = await live.post("/reports/2021-06-30/reports", headers=headers(token), json=body)
        assert (
            response.status_code == 400 and response.json()["errors"][0]["code"] == "InvalidInput"
        ), body
    not_json = await live.post("/reports/2021-06-30/reports", headers=headers(token), content=b"{")
    assert not_json.status_code == 400


async def test_health_over_a_real_socket(live) -> None:
    response = await live.get("/health")
    assert response.status_code == 200 and msgspec.json.decode(response.content) == {"status": "ok"}


# --- documents as Amazon serves them (in-process sandbox; clock shifted, not waited) ---


def _shift(client, seconds: float) -> None:
    """Move the sandbox's clock further ahead (real seconds) instead of waiting."""
    clock = client.app.state.sandbox.clock
    ahead = clock.now() - time.time() + seconds
    clock._now = lambda: time.time() + ahead


async def _document(client, token: str, report_type: str = BY_ORDER_DATE, days: int = 90):
    body = {"reportType": report_type, "marketplaceIds": [FR], "dataStartTime": iso_ago(days=days)}
    created = await client.post("/reports/2021-06-30/reports", headers=headers(token), json=body)
    assert created.status_code == 202, created.text
    report_id = created.json()["reportId"]
    _shift(client, 120)  # past IN_QUEUE (30 s) and IN_PROGRESS (60 s) at time scale 1
    token = (await connect(client))["access_token"]
    report = (
        await client.get(f"/reports/2021-06-30/reports/{report_id}", headers=headers(token))
    ).json()
    assert report["processingStatus"] == "DONE", report
    meta = await client.get(
        f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=headers(token)
    )
    assert meta.status_code == 200, meta.text
    url = httpx.URL(meta.json()["url"])
    return meta.json(), url, await client.get(url.raw_path.decode())


async def test_large_eu_documents_are_gzipped_cp1252_with_extra_columns(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    meta, url, content = await _document(client, (await connect(client))["access_token"])
    assert meta["compressionAlgorithm"] == "GZIP" and content.content[:2] == b"\x1f\x8b"
    assert content.headers["content-type"] == "text/plain;charset=Cp1252"
    raw = gzip.decompress(content.content)
    assert "é".encode("cp1252") in raw and "é".encode() not in raw
    header = document_text(meta, content).splitlines()[0].split("\t")
    assert DOCUMENTED < set(header) and "is-iba" in header
    # The pre-signed URL reads like S3's: signed at X-Amz-Date, valid X-Amz-Expires seconds.
    assert url.params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert url.params["X-Amz-Expires"] == "300" and re.fullmatch(
        r"\d{8}T\d{6}Z", url.params["X-Amz-Date"]
    )


async def test_gzip_can_come_without_compression_algorithm(make_client) -> None:
    client = await make_client(
        SandboxConfig(time_scale=1, doubles=(AmazonDoubleSettings(report_gzip_declaration="omit"),))
    )
    meta, _, content = await _document(client, (await connect(client))["access_token"])
    assert "compressionAlgorithm" not in meta and content.content[:2] == b"\x1f\x8b"
    small, _, plain = await _document(client, (await connect(client))["access_token"], days=2)
    assert "compressionAlgorithm" not in small and plain.content[:2] != b"\x1f\x8b"


async def test_column_positions_are_not_a_contract(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client))["access_token"]
    by_date, _, a = await _document(client, token)
    by_update, _, b = await _document(client, token, BY_LAST_UPDATE)
    first = document_text(by_date, a).splitlines()[0].split("\t")
    second = document_text(by_update, b).splitlines()[0].split("\t")
    assert set(first) == set(second) and first != second
    assert second[1] == "last-updated-date"


async def test_expired_or_tampered_urls_get_s3_xml_errors(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    _, url, _ = await _document(client, (await connect(client))["access_token"], days=2)
    tampered = await client.get(url.copy_set_param("X-Amz-Expires", "86400").raw_path.decode())
    assert tampered.status_code == 403 and tampered.headers["content-type"].startswith(
        "application/xml"
    )
    assert "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    _shift(client, 301)
    expired = await client.get(url.raw_path.decode())
    assert expired.status_code == 403
    assert (
        "<Code>AccessDenied</Code>" in expired.text
        and "<Message>Request has expired</Message>" in expired.text
    )


async def test_order_reports_lag_behind_the_listings(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=3000))  # reports lag 600 s -> 0.2 s
    token = (await connect(client))["access_token"]
    placed = await client.post(
        f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400}
    )
    new = set(placed.json()["newOrderIds"])
    body = {"reportType": BY_ORDER_DATE, "marketplaceIds": [FR], "dataStartTime": iso_ago(days=5)}
    created = await client.post("/reports/2021-06-30/reports", headers=headers(token), json=body)
    await asyncio.sleep(0.1)  # report done (0.03 s); listings caught up (0.04 s)
    listed = {
        o["AmazonOrderId"] for o in await all_orders_v0(client, token, CreatedAfter=iso_ago(days=5))
    }
    assert new and new <= listed
    report = await spapi_get(
        client, f"/reports/2021-06-30/reports/{created.json()['reportId']}", token
    )
    document = await spapi_get(
        client, f"/reports/2021-06-30/documents/{report.json()['reportDocumentId']}", token
    )
    meta = document.json()
    content = await client.get(httpx.URL(meta["url"]).raw_path.decode())
    assert not any(order_id in document_text(meta, content) for order_id in new)


async def test_stall_next_keeps_a_report_in_progress_for_good(make_client) -> None:
    client = await make_client(SandboxConfig())
    token = (await connect(client))["access_token"]
    armed = await client.put("/_sandbox/reports/failures", json={"stallNext": 1})
    assert armed.status_code == 200 and armed.json()["stallNext"] == 1
    body = {"reportType": BY_ORDER_DATE, "marketplaceIds": [FR], "dataStartTime": iso_ago(days=9)}
    ids = []
    for _ in range(2):
        created = await client.post(
            "/reports/2021-06-30/reports", headers=headers(token), json=body
        )
        assert created.status_code == 202, created.text
        ids.append(created.json()["reportId"])
    _shift(client, 3600)  # an Amazon hour: far past IN_QUEUE (30 s) + IN_PROGRESS (60 s)
    token = (await connect(client))["access_token"]
    stalled, normal = [
        (await client.get(f"/reports/2021-06-30/reports/{i}", headers=headers(token))).json()
        for i in ids
    ]
    assert stalled["processingStatus"] == "IN_PROGRESS" and "reportDocumentId" not in stalled
    assert normal["processingStatus"] == "DONE"
    bad = await client.put("/_sandbox/reports/failures", json={"stallNext": -1})
    assert bad.status_code == 400


async def test_the_document_is_written_while_the_report_is_processed() -> None:
    """As Amazon: the document is written during IN_PROGRESS, so getReportDocument serves it
    at once (3,300 orders took ~0.8 s to render on the request path). Held by when the double
    began writing it, on its own clock, against the report's processing window: a poll that
    must catch IN_PROGRESS with the document written missed it on a loaded machine."""
    seen: list[Sandbox] = []
    async with (
        running_sandbox(SandboxConfig(time_scale=50), seen=seen) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        token = (await connect(client))["access_token"]
        report_id = (await _create(client, token, iso_ago(days=90))).json()["reportId"]
        record = seen[0].parts["amazon"].reports.reports[report_id]
        assert record.document is None  # not before processing starts
        path = f"/reports/2021-06-30/reports/{report_id}"

        async def done() -> dict | None:
            report = (await spapi_get(client, path, token)).json()
            return report if report["processingStatus"] == "DONE" else None

        report = await eventually(done, within=None)
        assert record.writing_began is not None
        assert record.started <= record.writing_began < record.finished, (
            f"written at {record.writing_began}, processed {record.started}-{record.finished}"
        )
        document = await spapi_get(
            client, f"/reports/2021-06-30/documents/{report['reportDocumentId']}", token
        )
        async with httpx.AsyncClient() as plain:
            content = (await plain.get(document.json()["url"])).content
    assert content == record.document


async def test_an_idle_connection_is_kept_as_amazon_keeps_it(live) -> None:
    """Kept past httpx's 5 s keep-alive expiry: a client reusing its connection then never
    meets a socket the sandbox closed under it (it did, with uvicorn's 5 s default)."""
    host, port = live.base_url.host, live.base_url.port
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        for pause in (0.0, 6.0):
            await asyncio.sleep(pause)
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), timeout=5)
            assert status.startswith(b"HTTP/1.1 200"), status
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
    finally:
        writer.close()
