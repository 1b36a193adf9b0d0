"""Talking to the Fnac double over HTTP in tests: every request sent and every XML
response received is checked against Fnac's (amended) schemas."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from keybuzz_double_fnac.schema import NS, parse, schema_errors
from lxml import etree

A_UUID = "00000000-0000-0000-0000-000000000000"


def element(tag: str, text: str | None = None, *children: etree._Element, **attrs: str) -> Any:
    node = etree.Element(f"{{{NS}}}{tag}", attrs, nsmap={None: NS})
    node.text = text
    node.extend(children)
    return node


def find(root: etree._Element, path: str) -> list[etree._Element]:
    """Elements at a slash-separated path of local names under root."""
    return root.findall("/".join(f"{{{NS}}}{p}" for p in path.split("/")))


def text(root: etree._Element, path: str) -> str:
    found = find(root, path)
    assert found, f"no {path} in the response"
    return found[0].text or ""


def errors_of(root: etree._Element) -> list[str]:
    return [e.get("code", "") for e in root.iter(f"{{{NS}}}error")]


class Fnac:
    """A shop's client in tests: authenticates, posts documents, checks both ways."""

    def __init__(self, http: httpx.AsyncClient, shop: dict[str, Any]) -> None:
        self.http = http
        self.shop = shop
        self.token = A_UUID

    async def send(self, service: str, document: etree._Element) -> tuple[httpx.Response, Any]:
        body = etree.tostring(document, xml_declaration=True, encoding="utf-8")
        assert schema_errors(document) == [], schema_errors(document)  # our request is Fnac's
        response = await self.http.post(f"/fnac/api.php/{service}", content=body)
        if response.status_code not in (200, 429):
            return response, None
        root = parse(response.content)
        problems = schema_errors(root)
        assert problems == [], f"{service} response breaks the schema: {problems}"
        return response, root

    def auth_request(self) -> Any:
        return element(
            "auth",
            None,
            element("partner_id", self.shop["partner_id"]),
            element("shop_id", self.shop["shop_id"]),
            element("key", self.shop["key"]),
        )

    async def authenticate(self) -> Any:
        response, root = await self.send("auth", self.auth_request())
        assert response.status_code == 200
        if root.get("status") == "OK":
            self.token = text(root, "token")
        return root

    def request(self, service: str, *children: etree._Element, **attrs: str) -> Any:
        return element(
            service,
            None,
            *children,
            partner_id=self.shop["partner_id"],
            shop_id=self.shop["shop_id"],
            token=self.token,
            **attrs,
        )

    async def call(self, service: str, *children: etree._Element, **attrs: str) -> Any:
        """A request as a well-behaved client sends it: throttled (429), it waits the
        Retry-After it is given and tries again."""
        for _ in range(20):
            response, root = await self.send(service, self.request(service, *children, **attrs))
            if response.status_code != 429:
                break
            await asyncio.sleep(float(response.headers["Retry-After"]))
        assert response.status_code == 200, response.text
        return root


async def shops(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    listed = (await http.get("/_sandbox/fnac/shops")).json()
    return {shop["name"]: shop for shop in listed}
