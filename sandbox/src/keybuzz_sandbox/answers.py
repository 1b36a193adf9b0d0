"""Small HTTP pieces the doubles share: a JSON answer, a gateway's HTML error page, an XML
answer made hostile, a request's query with repeated parameters joined by commas, and a
slow shop's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.response import Stream

from .faults import (
    WEB_PAGE,
    FaultDecision,
    FaultInjector,
    SlowAnswer,
    trickled,
    xml_huge,
    xml_malform,
)

JSON = "application/json"
XML = "text/xml; charset=utf-8"


def json_answer(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(payload), status_code=status, media_type=JSON, headers=headers
    )


def admin_error(status: int, message: str) -> Response[bytes]:
    """A double's admin refusing a request: ``{"error": message}``."""
    return json_answer({"error": message}, status)


def gateway_page(status: int) -> Response[bytes]:
    """What a gateway in front of a marketplace answers when the API behind it fails."""
    page = f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
    return Response(page.encode(), status_code=status, media_type="text/html")


def xml_malformed(
    body: bytes,
    kind: str,
    huge_bytes: int,
    mistyped: tuple[str, ...] = (),
    status: int = 200,
) -> Response[bytes] | Stream:
    """An XML double's answer ``body`` (of HTTP ``status``) made hostile as ``kind`` says
    (``faults.XML_KINDS``): "huge" streamed to ``huge_bytes``, "html" a web page with 200,
    the others ``faults.xml_malform``'s (``mistyped``: its typed fields)."""
    if kind == "huge":
        return Stream(xml_huge(body, huge_bytes), media_type=XML)
    if kind == "html":  # a 200 with a web page, as a misrouted proxy answers
        return Response(WEB_PAGE, status_code=200, media_type="text/html")
    return Response(xml_malform(body, kind, mistyped), status_code=status, media_type=XML)


def joined_query(request: Request[Any, Any, Any]) -> dict[str, str]:
    params = request.query_params
    return {name: ",".join(params.getall(name)) for name in params}


async def held_back(
    slow: SlowAnswer, answering: Callable[[], Awaitable[Response[bytes]]]
) -> Response[bytes] | Stream:
    """The answer, stalled before it is made, held after, or trickled, as ``slow`` says;
    ``answering`` makes it, only once the stall is over (a caller gone by then leaves no
    answer begun)."""
    await asyncio.sleep(slow.stall)
    answered = await answering()
    await asyncio.sleep(slow.hold)
    if not slow.trickle:
        return answered
    return Stream(
        trickled(answered.content, slow.trickle),
        status_code=answered.status_code,
        media_type=answered.media_type,
        headers=dict(answered.headers),
    )


async def faulted(
    faults: FaultInjector,
    operation: str,
    holder: str,
    fault: Callable[[int], Response[bytes]],
    answering: Callable[[FaultDecision], Awaitable[Response[bytes]]],
) -> Response[bytes] | Stream:
    """``operation``'s answer as the faults armed on it play: its delay, an injected status
    (answered by ``fault``), else ``answering``'s answer (given the decision: a malformed
    kind) held back as a slow ``holder`` (the shop the faults name) is."""
    decision = await faults.delayed(operation)
    if decision.error_status:
        return fault(decision.error_status)
    return await held_back(faults.slow_answer(operation, holder), lambda: answering(decision))
