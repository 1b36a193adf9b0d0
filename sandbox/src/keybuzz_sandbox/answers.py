"""Small HTTP pieces the doubles share: a JSON answer, a gateway's HTML error page, and a
request's query with repeated parameters joined by commas."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

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
