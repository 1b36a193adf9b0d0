"""The Rakuten double's extra sellers (``SANDBOX_RAKUTEN_EXTRA_SHOPS``): listed beside the
seeded ones with tokens of their own, each answering for itself with nothing to do and one
sale; the conformance driver's staff message read back as a mail of Rakuten's customer
service."""

from __future__ import annotations

from typing import Any

from keybuzz_double_rakuten import DOUBLE, RakutenDoubleSettings
from keybuzz_double_rakuten.routes import RakutenFaults
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture
from lxml import etree

served_doubles = serving("rakuten")


async def test_extra_sellers_are_listed_and_answer_with_nothing_to_do(serve: Any) -> None:  # noqa: F811
    http = await serve(SandboxConfig(doubles=(RakutenDoubleSettings(extra_shops=3),)))
    listed = (await http.get("/_sandbox/rakuten/shops")).json()
    extra = [s for s in listed if "Boutique" in s["name"]]
    assert len(listed) == 6 and len(extra) == 3
    assert len({s["login"] for s in listed}) == len({s["token"] for s in listed}) == 6

    def called(action: str, seller: dict[str, str], version: str) -> dict[str, Any]:
        params = {"login": seller["login"], "pwd": seller["token"], "version": version}
        return {"action": action, **params}

    for seller in extra:
        todo = await http.get(
            "/rakuten/sales_ws", params=called("getitemtodolist", seller, "2011-09-01")
        )
        assert todo.status_code == 200, todo.text
        assert etree.fromstring(todo.content).findall(".//item") == []
        sales = await http.get(
            "/rakuten/sales_ws", params=called("getcurrentsales", seller, "2018-06-29")
        )
        assert len(etree.fromstring(sales.content).findall(".//sale")) == 1
    wrong = {**extra[0], "token": extra[1]["token"]}
    refused = await http.get("/rakuten/sales_ws", params=called("getitemtodolist", wrong, "x"))
    assert refused.status_code == 401
    await staff_message_is_customer_services_mail(http, extra[0])
    read = SandboxConfig.from_env({"SANDBOX_RAKUTEN_EXTRA_SHOPS": "3"})
    assert read.of(RakutenDoubleSettings).extra_shops == 3


async def staff_message_is_customer_services_mail(http: Any, seller: dict[str, str]) -> None:
    """What the conformance suite posts as Rakuten's staff writing in a thread reaches the
    seller as a mail from Rakuten, not a buyer's message: the suite's threads with customer
    service hold one."""
    shop = f"/_sandbox/rakuten/shops/{seller['login']}/threads"
    item = (await http.post(shop, json={"body": "Bonjour"})).json()["threadId"]
    staff = DOUBLE.drivers()["RAKUTEN"].staff_message("Merci de répondre")
    assert (await http.post(f"{shop}/{item}/messages", json=staff)).status_code == 201
    params = {"login": seller["login"], "pwd": seller["token"], "version": "2017-08-07"}
    infos = await http.get(
        "/rakuten/sales_ws", params={"action": "getiteminfos", "itemid": item, **params}
    )
    [mail] = etree.fromstring(infos.content).findall(".//mail")
    assert (mail.findtext("sender"), mail.findtext("content")) == ("Rakuten", "Merci de répondre")


def test_its_faults_take_rakutens_hostile_bodies_only() -> None:
    """Its XML's bodies, named by its own kinds; a JSON body's kind is refused, naming them."""
    assert [RakutenFaults(malformed_kind=k).problems() for k in ("entities", "huge")] == [[], []]
    assert RakutenFaults(malformed_kind="invalid_json").problems() == [
        "malformedKind must be one of truncated, entities, deep, mistyped, huge, html, bad_bytes"
    ]
