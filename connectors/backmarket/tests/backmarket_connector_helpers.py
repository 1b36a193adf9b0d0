"""What the Back Market connector's tests share beside their fixtures (conftest.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from keybuzz_connector_backmarket.connector import client_of
from keybuzz_connector_backmarket.settings import (
    BACKMARKET,
    PLATFORMS,
    BackMarketApiSettings,
    BackMarketSettings,
)
from keybuzz_double_backmarket.contract import DESCRIBED
from keybuzz_shared.connectors.kit import Declaration, Requester
from keybuzz_shared.file_links import FileLinks

USER_AGENT = "BM-KeyBuzz-Care;integrations@keybuzz.io"
USER_AGENT_FORM = re.compile(r"BM-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+;[^@\s;]+@[^@\s;]+\.[^@\s;]+")


def request_problems(request: httpx.Request, prefix: str) -> list[str]:
    """What in ``request`` Back Market's description (and its guide) would not take."""
    path = request.url.path.removeprefix(prefix)
    if path.startswith("/files/"):  # an attachment's URL: a file host, not the API
        return []
    operation = DESCRIBED.operation_at(request.method, path)
    if operation is None:
        return [f"{request.method} {path}: no such operation"]
    problems = DESCRIBED.query_problems(operation, dict(request.url.params))
    headers = request.headers
    if not headers.get("authorization", "").startswith("Basic "):
        problems.append("no Basic token")
    if headers.get("accept-language") not in PLATFORMS:
        problems.append(f"Accept-Language {headers.get('accept-language')!r}")
    if not USER_AGENT_FORM.fullmatch(headers.get("user-agent", "")):
        problems.append(f"User-Agent {headers.get('user-agent')!r}")
    if request.method == "POST":
        problems += DESCRIBED.body_problems(operation, _form_of(request), "multipart/form-data")
    return problems


def _form_of(request: httpx.Request) -> dict[str, Any]:
    """A multipart request's fields, files by their names (what the description's form reads)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        return {"(not multipart)": kind}
    boundary = kind.split("boundary=", 1)[1].encode()
    form: dict[str, Any] = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        head, _, _ = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        if name is None:
            continue
        key = name.group(1).decode()
        if filename is not None:
            form.setdefault(key, []).append(filename.group(1).decode())
        else:
            value = part.partition(b"\r\n\r\n")[2].removesuffix(b"\r\n")
            form[key] = value.decode()
    return form


class Checked:
    """The requests a test's client sent, and what was wrong with them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sent: list[httpx.Request] = []
        self.problems: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        await request.aread()
        self.sent.append(request)
        self.problems += request_problems(request, self.prefix)

    def calls(self, method: str, fragment: str) -> int:
        return sum(1 for r in self.sent if r.method == method and fragment in r.url.path)


def client_for(
    sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, Any], **options: Any
) -> Requester:
    """The shop's client as a session opens it, every platform on the sandbox's double."""
    platform = f"{sandbox_url}/backmarket"
    platforms = {f"BACKMARKET_{p}_URL": platform for p in ("EU", "US", "AP")}
    api = BackMarketSettings.from_environment(platforms).shop_api(BACKMARKET)
    assert isinstance(api, BackMarketApiSettings) and api.user_agent == USER_AGENT
    fields = {
        "token": shop["token"],
        "merchant_id": str(shop["merchantId"]),
        "country": shop["country"],
    }
    files = FileLinks([sandbox_url], inside_allowed=True)
    return client_of(
        Declaration.Opening(fields, http, api, {"files": files, "initial_backoff": 0.05, **options})
    )
