"""Talking to the Back Market double over HTTP in tests, and checking what it answers
against Back Market's own OpenAPI description (keybuzz_double_backmarket/openapi/).

The validator is openapi-schema-validator's OAS 3.0 one (``nullable``, OpenAPI's formats)
over the description as keybuzz_double_backmarket.contract reads it: object schemas
closed, so a field the description does not name fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from keybuzz_double_backmarket.contract import DESCRIBED

if TYPE_CHECKING:  # imported where used: ~0.25 s of CPU each test worker paid at collection
    from openapi_schema_validator import OAS30Validator

ADMIN = "/_sandbox/backmarket"
USER_AGENT = "BM-KeyBuzz-Helpdesk;tech@keybuzz.io"
FOLDERS, ORDERS = "/ws/sav", "/ws/orders"


def validator_for(operation_id: str, *where: str) -> OAS30Validator:
    """A validator of the schema at ``where`` inside the operation's object."""
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    return DESCRIBED.validator(
        OAS30Validator, operation_id, *where, format_checker=oas30_format_checker
    )


def error_validator() -> OAS30Validator:
    """Back Market's documented error body (``ErrorResponseV1``)."""
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    return OAS30Validator(
        {"$ref": f"{DESCRIBED.uri}#/components/schemas/ErrorResponseV1"},
        registry=DESCRIBED.registry(),
        format_checker=oas30_format_checker,
    )


def check_response(operation_id: str, response: httpx.Response) -> Any:
    """The response's JSON, after checking it against the operation's documented response
    (status and content type documented, body valid); raises if not."""
    status, media = DESCRIBED.documented(operation_id, response)
    body = response.json()
    validator_for(operation_id, "responses", status, "content", media, "schema").validate(body)
    return body


def check_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """An error answer: the status, and Back Market's ``ErrorResponseV1`` body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    error_validator().validate(body)
    return body


async def shops(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await http.get(f"{ADMIN}/shops")).json()
    return listed


class Seller:
    """A shop's calls: its token, a country and the User-Agent Back Market asks for."""

    def __init__(self, http: httpx.AsyncClient, shop: dict[str, Any]) -> None:
        self.http, self.shop = http, shop
        self.base, self.number, self.token = shop["baseUrl"], shop["number"], shop["token"]

    @property
    def admin(self) -> str:
        return f"{ADMIN}/shops/{self.number}"

    def headers(self, changed: dict[str, str | None] | None = None) -> dict[str, str]:
        """The headers of every call, with ``changed`` ones (None: left out)."""
        headers: dict[str, str | None] = {
            "Authorization": f"Basic {self.token}",
            "Accept-Language": self.shop["country"],
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        headers |= changed or {}
        return {name: value for name, value in headers.items() if value is not None}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"{self.base}{path}", params=params, headers=self.headers())

    async def post_message(
        self,
        folder_id: int,
        fields: dict[str, str] | None = None,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> httpx.Response:
        parts: list[tuple[str, Any]] = [
            (name, (None, value.encode())) for name, value in (fields or {}).items()
        ]
        parts += [("attachment", (name, data, "image/jpeg")) for name, data in files]
        return await self.http.post(
            f"{self.base}{FOLDERS}/{folder_id}/msg", files=parts, headers=self.headers()
        )


async def seller(http: httpx.AsyncClient, number: int = 1) -> Seller:
    return Seller(http, next(s for s in await shops(http) if s["number"] == number))
