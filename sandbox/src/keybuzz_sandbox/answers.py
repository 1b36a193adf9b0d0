"""Small HTTP pieces the doubles share: a JSON answer, a gateway's HTML error page, a
request's query with repeated parameters joined by commas, and a slow shop's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.response import Stream

from .faults import SlowAnswer, trickled

JSON = "application/json"


def json_answer(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(payload), status_code=status, media_type=JSON, headers=headers
    )


def gateway_page(status: int) -> Response[bytes]:
    """What a gateway in front of a marketplace answers when the API behind it fails."""
    page = f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
    return Response(page.encode(), status_code=status, media_type="text/html")


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
