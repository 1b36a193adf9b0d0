"""Talking to the Cdiscount double (Octopia's seller API v2) over HTTP in tests."""

from __future__ import annotations

import base64
from typing import Any

import httpx

TOKEN = "/octopia/auth/realms/maas/protocol/openid-connect/token"
API = "/octopia/seller/v2"
ADMIN = "/_sandbox/cdiscount"
DEMO = "KeyBuzz Démo Cdiscount"
MAISON = "KeyBuzz Maison Cdiscount"


async def shops(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in (await http.get(f"{ADMIN}/shops")).json()}


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


class Octopia:
    """A seller's client in tests: a token, then Bearer + SellerId on every call."""

    def __init__(self, http: httpx.AsyncClient, shop: dict[str, Any]) -> None:
        self.http = http
        self.shop = shop
        self.token = ""

    async def request_token(self, secret: str | None = None) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.shop["clientId"],
            "client_secret": self.shop["clientSecret"] if secret is None else secret,
        }
        return await self.http.post(TOKEN, data=form)

    async def authenticate(self) -> Octopia:
        response = await self.request_token()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "SellerId": self.shop["sellerId"]}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"{API}{path}", params=params, headers=self.headers)

    async def ok(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def all_pages(self, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every item, following the Link header's next page; (items, pages read)."""
        response = await self.get(path, **params)
        items, pages = [], 0
        while True:
            assert response.status_code == 200, response.text
            items += response.json()["items"]
            pages += 1
            following = response.links.get("next")
            if following is None:
                return items, pages
            response = await self.http.get(following["url"], headers=self.headers)

    async def reply(self, **body: Any) -> httpx.Response:
        return await self.http.post(f"{API}/messages", json=body, headers=self.headers)

    async def patch(self, path: str, field: str, value: Any) -> httpx.Response:
        operations = [{"op": "replace", "path": f"/{field}", "value": value}]
        headers = {**self.headers, "Content-Type": "application/json-patch+json"}
        return await self.http.patch(f"{API}{path}", json=operations, headers=headers)


async def seller(http: httpx.AsyncClient, name: str = DEMO) -> Octopia:
    return await Octopia(http, (await shops(http))[name]).authenticate()
