"""Rakuten's seller web services as the double serves them (``GET /rakuten/sales_ws``), its
answers, refusals and rules as docs/RAKUTEN.md ("The double") describes them; its admin
under ``/_sandbox/rakuten``, its faults the sandbox's own."""

from __future__ import annotations

import hashlib
import itertools
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from keybuzz_sandbox.answers import XML, gateway_page, held_back, xml_malformed
from keybuzz_sandbox.double_kit.admin import ShopAdmin
from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import XML_KINDS, FaultInjector, SlowFaultConfig, reply_faults
from litestar import Request, Response, get
from litestar.response import Stream
from lxml import etree

from keybuzz_double_rakuten import API, RakutenDoubleSettings
from keybuzz_double_rakuten.state import (
    DAY,
    PARIS,
    SUPPORT,
    Item,
    Said,
    Seller,
    dated,
    message_id,
    seeded_sellers,
)

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox

SALES_PAGE = 10  # sales a getcurrentsales page lists [assumed]
# The web service's actions the double serves: three reads, two replies.
ACTIONS = (
    "getitemtodolist",
    "getiteminfos",
    "getcurrentsales",
    "contactuseraboutitem",
    "contactusaboutitem",
)
# The fields a "mistyped" answer gives a word: each message's and mail's date.
MISTYPED = ("message/senddate", "mail/senddate")


class RakutenFaults(SlowFaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The sandbox's faults of a shop API, its hostile bodies an XML API's
    (``faults.XML_KINDS``). ``operations`` names actions."""

    malformed_kinds: ClassVar[tuple[str, ...]] = XML_KINDS
    malformed_kind: str = "truncated"


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _els(parent: etree._Element, **texts: str) -> etree._Element:
    """``parent``, given a child for each of ``texts`` (its tag: its text), in order."""
    for tag, text in texts.items():
        _el(parent, tag, text)
    return parent


def _result(action: str, login: str, version: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{action}result")
    _els(_el(root, "request"), version=version, user=login)
    return root, _el(root, "response")


def error_document(code: str, message: str, detail: str, kind: str = "Sender") -> bytes:
    root = etree.Element(
        "errorresponse", nsmap={None: "https://static.fr.shopping.rakuten.com/res/schema/error"}
    )
    error = _els(_el(root, "error"), type=kind, code=code, message=message)
    _el(_el(error, "details"), "detail", detail)
    return _document(root)


def _document(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def parameter_error(detail: str) -> bytes:
    return error_document("ParameterError", "Problem with parameters", detail)


def _xml(body: bytes, status: int = 400) -> Response[bytes]:
    return Response(body, status_code=status, media_type=XML)


def routes(sb: Sandbox) -> Served:
    sellers = seeded_sellers(sb.config.seed, sb.config.of(RakutenDoubleSettings).extra_shops)
    faults = FaultInjector(sb.config.seed, RakutenFaults())
    numbers = itertools.count(1)

    def item_infos(seller: Seller, item: Item, version: str) -> etree._Element:
        root, response = _result("getiteminfos", seller.login, version)
        _els(response, purchaseid=item.purchase_id, purchasedate=dated(item.ordered_at))
        node = _els(_el(response, "item"), itemid=item.item_id, itemstatus=item.status)
        if item.received_at is not None:
            _el(node, "receiveddate", dated(item.received_at))
        if item.claim:
            amicable = "true" if item.amicable else "false"
            _els(_el(node, "claim"), status=item.claim, amicable=amicable)
        for said in item.said:
            element = _el(node, said.kind)
            if said.mail_id:
                _el(element, "mailid", said.mail_id)
            _els(element, sender=said.sender, recipient=said.recipient, senddate=dated(said.at))
            if said.kind == "mail":
                _el(element, "object", f"Article {item.item_id} - Service Clients Rakuten")
            _el(element, "content").text = etree.CDATA(said.content)
            _el(element, "status", "UNREAD" if said.unread else "READ")
        return root

    def todo(seller: Seller, version: str) -> etree._Element:
        root, response = _result("getitemtodolist", seller.login, version)
        items = _el(response, "items")
        for item in seller.items.values():
            if causes := item.to_do(seller.login):
                node = _el(items, "item")
                _el(node, "itemid", item.item_id)
                listed = _el(node, "causes")
                for cause in causes:
                    _el(listed, "cause", cause)
        return root

    def sales(seller: Seller, params: dict[str, str], version: str) -> etree._Element:
        root, response = _result("getcurrentsales", seller.login, version)
        start = 0.0
        if since := params.get("purchasedate"):
            start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=PARIS).timestamp()
        listed = sorted(
            (i for i in seller.items.values() if i.ordered_at >= start),
            key=lambda i: (i.ordered_at, i.item_id),
        )
        offset = int(params.get("nexttoken") or 0)
        node = _el(response, "sales")
        for item in listed[offset : offset + SALES_PAGE]:
            sale = _el(node, "sale")
            _els(sale, purchaseid=item.purchase_id, purchasedate=dated(item.ordered_at))
            line = _els(
                _el(_el(sale, "items"), "item"),
                itemid=item.item_id,
                sku=f"SKU-{item.item_id}",
                headline="Livre d'occasion",
                itemstatus=item.status,
            )
            _els(_el(line, "price"), amount="12.50", currency="EUR")
        if offset + SALES_PAGE < len(listed):
            _el(response, "nexttoken", str(offset + SALES_PAGE))
        return root

    def write(seller: Seller, item: Item, recipient: str, text: str) -> str | None:
        """The seller's message, or why Rakuten refuses it."""
        now = time.time()
        received = item.received_at
        if recipient == SUPPORT:
            if received is not None and now - received > 30 * DAY:
                return "Rakuten's customer service cannot be contacted about this item anymore"
        elif item.claim == "OPEN" and not item.amicable:
            return "The buyer cannot be contacted while a claim is in progress"
        elif (
            received is not None and now - received > 15 * DAY
        ) or now - item.ordered_at > 42 * DAY:
            return "The buyer cannot be contacted about this item anymore"
        shown = reply_faults(faults.config, now)
        seller.sent.append(
            {"recipient": "MARKETPLACE_SUPPORT" if recipient == SUPPORT else "BUYER", "body": text}
        )
        kind = "mail" if recipient == SUPPORT else "message"
        mail_id = str(next(numbers) + 900_000) if kind == "mail" else ""
        item.said.append(
            Said(kind, seller.login, recipient, shown.date(now), shown.show(text), False, mail_id)
        )
        for said in item.said:
            if said.sender == (SUPPORT if recipient == SUPPORT else item.buyer):
                said.unread = False
        return None

    def act(seller: Seller, params: dict[str, str]) -> tuple[bytes, int]:
        action, version = params.get("action", ""), params["version"]
        if action == "getitemtodolist":
            return _document(todo(seller, version)), 200
        if action == "getcurrentsales":
            return _document(sales(seller, params, version)), 200
        item = seller.items.get(params.get("itemid", ""))
        if item is None:
            return parameter_error("The parameter itemid is invalid"), 400
        if action == "getiteminfos":
            return _document(item_infos(seller, item, version)), 200
        recipient = SUPPORT if action == "contactusaboutitem" else item.buyer
        text = params.get("message" if recipient == SUPPORT else "content", "")
        if not text.strip():
            return parameter_error("The message is mandatory"), 400
        if refusal := write(seller, item, recipient, text):
            return error_document("InvalidItemState", "The item does not allow it", refusal), 400
        root, response = _result(action, seller.login, version)
        _el(response, "status", "OK")
        return _document(root), 200

    @get(f"{API}/sales_ws", include_in_schema=False)
    async def sales_ws(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        params = {k: v for k, v in request.query_params.items()}
        action = params.get("action", "")
        if action not in ACTIONS:
            return _xml(parameter_error(f"Unknown action {action}"))
        missing = [p for p in ("login", "pwd", "version") if not params.get(p)]
        if missing:
            return _xml(parameter_error(f"The parameter {missing[0]} is mandatory"))
        decision = await faults.delayed(f"rakuten.{action}")
        if decision.error_status:
            return gateway_page(decision.error_status)
        seller = sellers.get(params["login"].lower())
        sent_token = params["pwd"]
        if seller is None or sent_token != seller.token:
            said = "Invalid login or token" + sb.echo.of(sent_token)
            return _xml(error_document("InvalidCredentials", "Authentication failed", said), 401)
        if (refused := sb.echo.refusal(sent_token)) is not None:
            return _xml(parameter_error(refused))

        async def made() -> Response[bytes]:
            body, status = act(seller, params)
            if kind := decision.malformed_kind:
                huge = faults.config.huge_bytes
                return xml_malformed(body, kind, huge, MISTYPED, status)  # type: ignore[return-value]
            return _xml(body, status)

        return await held_back(faults.slow_answer(f"rakuten.{action}", seller.login), made)

    # --- admin ------------------------------------------------------------------------------

    def said_by(seller: Seller, item: Item, data: dict[str, Any]) -> Said:
        staff = bool(data.get("staff"))
        kind = "mail" if staff else "message"
        said = Said(
            kind,
            SUPPORT if staff else item.buyer,
            seller.login,
            time.time(),
            str(data["body"]),
            True,
            str(next(numbers) + 900_000) if staff else "",
        )
        item.said.append(said)
        return said

    threads = {"thread": ("thread", lambda seller, item_id: seller.items.get(item_id))}
    at_shop = ShopAdmin("/shops/{login:str}", sellers.get, threads)

    @at_shop.listing("/shops")
    def listed_shops(_root: str) -> list[dict[str, str]]:
        return [
            {"name": s.name or f"Rakuten {s.login}", "login": s.login, "token": s.token}
            for s in sellers.values()
        ]

    @at_shop.post("/threads", dict[str, Any], 201)
    def open_thread(seller: Seller, data: dict[str, Any]) -> dict[str, str]:
        n, now = next(numbers), time.time()
        item = Item(
            item_id=str(600_000_000 + n),
            purchase_id=str(500_000_000 + n),
            buyer=f"acheteur-{n}",
            ordered_at=now - float(data.get("orderedDaysAgo", 1)) * DAY,
            received_at=(now - float(data["receivedDaysAgo"]) * DAY)
            if "receivedDaysAgo" in data
            else None,
            status=str(data.get("status", "ACCEPTED")),
            claim=str(data.get("claim", "")),
            amicable=bool(data.get("amicable", False)),
        )
        seller.items[item.item_id] = item
        said = said_by(seller, item, data)
        return {
            "messageId": message_id(item, said),
            "orderId": item.purchase_id,
            "threadId": item.item_id,
        }

    @at_shop.post("/threads/{thread:str}/messages", dict[str, Any], 201)
    def add_message(seller: Seller, thread: Item, data: dict[str, Any]) -> dict[str, str]:
        return {"messageId": message_id(thread, said_by(seller, thread, data))}

    at_shop.get("/sent")(lambda seller: {"sent": seller.sent})

    @at_shop.post("/rotate-token")
    def rotate(seller: Seller) -> dict[str, str]:
        seller.token = hashlib.sha256(f"{seller.token}|{next(numbers)}".encode()).hexdigest()[:32]
        return {"token": seller.token}

    return Served(api=[sales_ws], admin=at_shop.handlers, faults=(faults, RakutenFaults))
