"""Talking to the Mirakl double over HTTP in tests, and checking what it answers against
Mirakl's own OpenAPI description of the seller API (keybuzz_double_mirakl/openapi/).

The validator is openapi-schema-validator's OAS 3.1 dialect (JSON Schema 2020-12 plus
OpenAPI's formats: int32, int64…) over the description as keybuzz_double_mirakl.contract
reads it: object schemas closed, so a field the description does not name fails."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from keybuzz_double_mirakl.contract import DESCRIBED

if TYPE_CHECKING:  # imported where used: ~0.25 s of CPU each test worker paid at collection
    from openapi_schema_validator import OAS31Validator

ADMIN = "/_sandbox/mirakl"


def validator_for(operation_id: str, *where: str) -> OAS31Validator:
    """A validator of the schema at ``where`` inside the operation's object."""
    from openapi_schema_validator import OAS31Validator, oas31_format_checker

    return DESCRIBED.validator(
        OAS31Validator, operation_id, *where, format_checker=oas31_format_checker
    )


def check_response(operation_id: str, response: httpx.Response) -> Any:
    """The response's JSON, after checking it against the operation's documented response
    (status and content type documented, body valid); raises if not."""
    status, media = DESCRIBED.documented(operation_id, response)
    if media != "application/json":
        return response.content
    body = response.json()
    validator_for(operation_id, "responses", status, "content", media, "schema").validate(body)
    return body


def check_request_part(operation_id: str, part: str, value: Any) -> None:
    """A multipart request's JSON part against the operation's documented request body."""
    where = ("requestBody", "content", "multipart/form-data", "schema", "properties", part)
    validator_for(operation_id, *where).validate(value)


def check_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Mirakl's error answer (its guide, not the description): JSON {message, status}."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status and isinstance(body["message"], str), body
    return body


async def operators(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {o["code"]: o for o in (await http.get(f"{ADMIN}/operators")).json()}


class Shop:
    """A shop's calls to its operator's instance: its key in Authorization, no scheme."""

    def __init__(self, http: httpx.AsyncClient, operator: dict[str, Any], index: int = 0) -> None:
        self.http = http
        self.code = operator["code"]
        self.base = operator["baseUrl"]
        self.shop_id = operator["shops"][index]["shopId"]
        self.key = operator["shops"][index]["apiKey"]

    @property
    def admin(self) -> str:
        return f"{ADMIN}/operators/{self.code}/shops/{self.shop_id}"

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            f"{self.base}{path}", params=params, headers={"Authorization": self.key}
        )

    async def reply(
        self,
        thread_id: str,
        message_input: Any,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> httpx.Response:
        return await self._multipart(
            f"/api/inbox/threads/{thread_id}/message", "message_input", message_input, files
        )

    async def _multipart(
        self, path: str, part: str, value: Any, attached: Sequence[tuple[str, bytes]]
    ) -> httpx.Response:
        content = value if isinstance(value, bytes) else json.dumps(value).encode()
        parts: list[tuple[str, Any]] = [(part, (None, content, "application/json"))]
        parts += [("files", (name, data, "application/octet-stream")) for name, data in attached]
        return await self.http.post(
            f"{self.base}{path}", files=parts, headers={"Authorization": self.key}
        )

    async def customer_writes(self, thread_id: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"{self.admin}/threads/{thread_id}/messages", json=body)


async def shop(http: httpx.AsyncClient, code: str = "BOULANGER", index: int = 0) -> Shop:
    return Shop(http, (await operators(http))[code], index)
