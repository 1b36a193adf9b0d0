"""The double kit's pieces a double runs for its marketplace's services (fast, no servers):
pre-signed download URLs, sealed tokens and pages, a Swagger 2.0 query read, a seller's reply
read, a relay's bounded memory, SQS delivery's faults and queue names."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import msgspec
import pytest
from keybuzz_sandbox.double_kit.api import Refused
from keybuzz_sandbox.double_kit.presigned import Presigner
from keybuzz_sandbox.double_kit.replies import MalformedMail, Recent, parse_reply
from keybuzz_sandbox.double_kit.sealed import Signer
from keybuzz_sandbox.double_kit.sqs import DeliveryFaults, SqsOutbox, parse_sqs_arn
from keybuzz_sandbox.double_kit.swagger import SwaggerModel, parse_query

NOW = 1_800_000_000.0


def test_a_presigned_url_holds_until_it_expires_and_not_once_altered() -> None:
    signer = Signer("secret")
    urls = Presigner(signer.mac, "AKIATEST", "eu-west-1")
    query = dict(parse_qsl(urls.query("doc-1", NOW, 300)))
    assert query["X-Amz-Expires"] == "300" and query["X-Amz-Credential"].startswith("AKIATEST/")
    assert urls.refusal("doc-1", query, NOW + 299) is None
    expired = urls.refusal("doc-1", query, NOW + 301)
    altered = urls.refusal("doc-2", query, NOW)
    incomplete = urls.refusal("doc-1", {k: v for k, v in query.items() if k != "X-Amz-Date"}, NOW)
    assert expired is not None and b"Request has expired" in expired.content
    assert altered is not None and b"SignatureDoesNotMatch" in altered.content
    assert incomplete is not None and incomplete.status_code == 403


class Page(msgspec.Struct):
    cursor: int


def test_a_sealed_page_comes_back_whole_and_is_refused_altered_or_expired() -> None:
    signer = Signer("secret")
    token = signer.seal_page(Page(7), NOW)
    assert {"+", "/", "="} <= set(token)  # a client must URL-encode it
    assert signer.open_page(token, Page, "NextToken", NOW) == Page(7)
    with pytest.raises(Refused, match="Invalid NextToken"):
        Signer("other").open_page(token, Page, "NextToken", NOW)
    with pytest.raises(Refused, match="expired"):
        signer.open_page(token, Page, "NextToken", NOW + 61, lifetime=60)


def test_sealed_claims_open_only_under_their_prefix_and_secret() -> None:
    token = Signer("secret").seal("Atza|", Page(3))
    assert Signer("secret").open("Atza|", token, Page) == Page(3)
    assert Signer("secret").open("Atzr|", token, Page) is None
    assert Signer("other").open("Atza|", token, Page) is None


MODEL = {
    "paths": {
        "/orders": {
            "get": {
                "operationId": "getOrders",
                "parameters": [
                    {"name": "Ids", "in": "query", "type": "array", "items": {"type": "string"}},
                    {"name": "Size", "in": "query", "type": "integer", "maximum": 100},
                    {"name": "After", "in": "query", "type": "string", "format": "date-time"},
                    {"name": "Market", "in": "query", "type": "string", "required": True},
                ],
            }
        }
    }
}


def test_a_query_is_read_by_its_models_parameters_and_refused_off_them() -> None:
    op = SwaggerModel("orders", MODEL).operations["getOrders"]
    read = parse_query(op, "Ids=a,b&Ids=c&Size=5&After=2026-01-01T00:00:00Z&Market=FR&Other=1")
    assert read == {"Ids": ["a", "b", "c"], "Size": 5, "After": 1767225600.0, "Market": "FR"}
    for query, why in (("Size=5", "Missing required"), ("Market=FR&Size=500", "Size")):
        with pytest.raises(Refused, match=why):
            parse_query(op, query)


REPLY = (
    b"From: Seller <seller@example.com>\r\nTo: buyer@marketplace.example\r\n"
    b"Subject: Re: order\r\nMessage-ID: <r1@example.com>\r\nIn-Reply-To: <m1@relay>\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"'
    b"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
)


def test_a_reply_is_read_with_its_thread_text_and_files_and_a_broken_one_refused() -> None:
    reply = parse_reply(REPLY)
    assert (reply.sender, reply.thread_ids, reply.text.strip()) == (
        "seller@example.com",
        ["<m1@relay>"],
        "Hello",
    )
    assert [(a.filename, a.size) for a in reply.attachments] == [("a.pdf", 5)]
    with pytest.raises(MalformedMail):
        parse_reply(REPLY.replace(b"From: Seller <seller@example.com>\r\n", b""))


def test_a_relays_memory_keeps_the_last_written() -> None:
    recent: Recent[int] = Recent(2)
    for n, key in enumerate(("a", "b", "a", "c")):
        recent.put(key, n)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (2, None, 3)


def test_sqs_faults_duplicate_and_hold_back_the_next_messages_and_arns_name_queues() -> None:
    outbox = SqsOutbox("seed", None, lambda now: None)
    outbox.faults = DeliveryFaults(event_lag_seconds=0.0, duplicate_next=1, late_next=1)
    first, second = outbox.drawn(time.time()), outbox.drawn(time.time())
    assert (first.copies, first.late > 0) == (2, True)
    assert (second.copies, second.late) == (1, 0.0)
    outbox.queue("arn:aws:sqs:eu-west-1:123:q", "{}", first)
    assert len(outbox.pending) == 2
    assert parse_sqs_arn("arn:aws:sqs:eu-west-1:123:q") == ("eu-west-1", "123", "q")
    assert parse_sqs_arn("arn:aws:sns:eu-west-1:123:q") is None
