"""The seller's token travels in Rakuten's query strings (``pwd``): on the double over
HTTP, it reaches no error, no log line (as the services' formatter writes it, httpx's
own request lines included), no call name the metrics are labelled by, and no trace
attribute, whether Rakuten refuses it, echoes it, or an answer is lost."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from keybuzz_connector_rakuten.connector import RakutenClient
from keybuzz_shared.connectors.kit import Declaration
from keybuzz_shared.connectors.seam import (
    CallOutcomeUnknown,
    CallRefused,
    CredentialsRefused,
    ShopApiSettings,
)
from keybuzz_shared.file_links import NO_FILES
from keybuzz_shared.logs import JsonFormatter
from keybuzz_shared.redaction import redact_text


def view(sandbox_url: str) -> ShopApiSettings:
    return ShopApiSettings(
        api_url=f"{sandbox_url}/rakuten/",
        timeout_seconds=5,
        call_deadline_seconds=5,
        poll_interval_seconds=2,
        mark_as_read=False,
        first_poll_days=1,
        max_attachment_bytes=1,
        attachment_origins=(),
    )


def client(sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, str]) -> RakutenClient:
    fields = {"login": shop["login"], "token": shop["token"]}
    return RakutenClient(Declaration.Opening(fields, http, view(sandbox_url), {"files": NO_FILES}))


@pytest.fixture
async def shop(admin: httpx.AsyncClient) -> dict[str, Any]:
    shops: list[dict[str, Any]] = (await admin.get("/rakuten/shops")).json()
    return shops[0]


def lines(caplog: pytest.LogCaptureFixture) -> str:
    formatter = JsonFormatter("test")
    return "\n".join(formatter.format(r) for r in caplog.records)


async def test_a_refused_or_echoed_token_reaches_no_error_log_metric_or_trace(
    sandbox_url: str,
    admin: httpx.AsyncClient,
    shop: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    urls: list[str] = []

    async def seen(request: httpx.Request) -> None:
        urls.append(str(request.url))

    wrong = shop | {"token": "Z" + shop["token"][1:]}
    assert (await admin.put("/echo-secret", json={"form": "as-sent"})).status_code == 200
    async with httpx.AsyncClient(event_hooks={"request": [seen]}) as http:
        logging.getLogger("httpx").info(
            "HTTP Request: GET %s", f"{sandbox_url}/rakuten/sales_ws?pwd={wrong['token']}"
        )
        with pytest.raises(CredentialsRefused) as refused:
            await client(sandbox_url, http, wrong).action("getitemtodolist")
        assert (
            await admin.put("/echo-secret", json={"form": "percent", "refuse": True})
        ).status_code == 200
        echoed = client(sandbox_url, http, shop)
        with pytest.raises(CallRefused) as quoted:
            await echoed.action("getitemtodolist")
    for token in (wrong["token"], shop["token"]):
        assert token not in str(refused.value) and token not in str(quoted.value)
        assert token not in lines(caplog)
        assert all(token not in name for name in echoed.sent)  # the metrics' call labels
        assert any(token in url for url in urls)  # it did travel in the query string …
        for url in urls:  # … and a span's URL attributes are masked (tracing.py)
            assert token not in redact_text(url)
    assert "getitemtodolist" in echoed.sent


async def test_a_lost_answer_names_no_token(
    sandbox_url: str, admin: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    opened = await admin.post(f"/rakuten/shops/{shop['login']}/threads", json={"body": "Bonjour"})
    item = opened.json()["threadId"]
    faults = {"malformedNext": 1, "operations": ["contactuseraboutitem"]}
    assert (await admin.put("/rakuten/faults", json=faults)).status_code == 200
    async with httpx.AsyncClient() as http:
        rakuten = client(sandbox_url, http, shop)
        with pytest.raises(CallOutcomeUnknown) as lost:
            await rakuten.action(
                "contactuseraboutitem", {"itemid": item, "content": "Merci"}, sends=True
            )
        assert shop["token"] not in str(lost.value)
        read_back = await rakuten.item(item)  # sent once: read back, never sent again
    assert [m.body for m in read_back.messages if m.sender_type == "SELLER"] == ["Merci"]
    sent = (await admin.get(f"/rakuten/shops/{shop['login']}/sent")).json()["sent"]
    assert [s["body"] for s in sent].count("Merci") == 1
