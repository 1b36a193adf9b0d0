"""A throwaway marketplace's connector, made from the kit as a new one is: its declaration
(marketplace, credential form, limits, settings, error labels, listing) and its mappings
(the marketplace's JSON → the seam's types). Its double: ``double.py``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit, seam

MARKETPLACE, NAME = "TRYOUT", "Tryout Market"
FIELDS = (
    kit.shop_number_field("shop_id", "Shop number"),
    kit.key_field("api_key", "API key", max_length=64),
)
LIMITS = seam.Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=2000, page_size=10)
ERRORS = kit.CallErrors.labelled(NAME, credentials="API key")
SPEC = kit.ApiSpec(NAME, logging.getLogger(__name__), ERRORS)
View = seam.ShopApiSettings


class TryoutSettings(kit.ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE, PREFIX = "TRYOUT", "tryout"
    api_url: str = "http://127.0.0.1:9/tryout/api/"
    timeout_seconds: float = 10.0
    call_deadline_seconds: float = 10.0
    first_poll_days: int = 7
    mark_as_read: bool = False


def client_of(opening: kit.Declaration.Opening[View]) -> kit.Requester:
    fields = opening.credentials
    kit.require_fields(FIELDS, fields, NAME)
    key = fields["api_key"]
    auth = kit.HeaderAuth({"X-Api-Key": key}, secret_headers=("X-Api-Key",), secrets=(key,))
    shop = f"shops/{int(fields['shop_id'])}/"
    base = opening.api.api_url.rstrip("/") + "/" + shop
    return kit.Requester(SPEC, auth, opening.http, base, shop={"shop": shop}, **opening.options)


class Said(msgspec.Struct, rename="camel", frozen=True):
    """One message as the marketplace lists it."""

    id: str
    thread_id: str
    order_id: str
    sender: str  # BUYER or SELLER
    body: str
    created_at: datetime


def message_of(said: Said) -> seam.InboxMessage:
    return seam.InboxMessage(
        message_id=said.id,
        thread=seam.ThreadKey("DISCUSSION", said.thread_id, said.order_id),
        sender_type="SELLER" if said.sender == "SELLER" else "BUYER",
        sender_name=None,
        subject=f"Order {said.order_id}",
        body=said.body,
        created_at=said.created_at,
        unread=said.sender != "SELLER",
    )


def read(raw: Sequence[Any]) -> tuple[tuple[seam.InboxMessage, ...], tuple[str, ...]]:
    found, unreadable = [], []
    for item in raw:
        try:
            found.append(message_of(msgspec.convert(item, Said)))
        except msgspec.ValidationError as exc:
            unreadable.append(f"a message: {exc}")
    return tuple(found), tuple(unreadable)


def messages_in(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ERRORS.unreadable("GET messages", "no list of messages")
    listed: list[Any] = body["messages"]
    return listed


class Inbox(seam.ThreadsInbox):
    def __init__(self, client: kit.Requester) -> None:
        self.client = client
        since = lambda low, high: {"since": low.isoformat()}  # noqa: E731
        self.listing = kit.Listing(kit.Listing.PageNumbers[seam.InboxMessage](), since, self._page)

    async def _page(self, query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        body = await self.client.get_json("messages", query, operation="list_messages")
        return messages_in(body), bool(body.get("more"))

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> seam.Page[seam.InboxMessage]:
        listing = self.listing
        state = listing.resume(cursor, updated=False) if cursor else listing.start(since, None, updated=False)  # fmt: skip
        step = await listing.step(state, read)
        following = seam.cursor_of(step.following) if step.following else None
        return seam.Page(items=step.items, next_cursor=following, unreadable=step.unreadable)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0  # the marketplace keeps no read mark

    async def file(self, file: seam.InboxFile, max_bytes: int) -> bytes:
        return await self.client.get_bytes(file.url, max_bytes)


def replies(client: kit.Requester) -> kit.DeclaredReplies:
    async def send(reply: seam.Reply) -> None:
        await client.send_json("POST", f"threads/{reply.thread.id}", {"body": reply.body})

    async def listed(discussion_id: str) -> list[seam.InboxMessage]:
        body = await client.get_json(f"threads/{discussion_id}", operation="list_messages")
        return list(read(messages_in(body))[0])

    return kit.DeclaredReplies(NAME, "thread", post=send, listed=listed)


class NoOrders:
    """The marketplace gives no orders: every listing is empty."""

    async def orders(self, **window: Any) -> seam.Page[seam.OrderSummary]:
        return seam.Page(items=(), next_cursor=None)

    orders_created = orders

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[seam.OrderSummary]:
        return []


def parts(client: kit.Requester, _api: View) -> kit.KitSession:
    verify = lambda: client.get_json("", operation="shop")  # noqa: E731
    return kit.KitSession(Inbox(client), replies(client), NoOrders(), verify=verify)


async def probe(client: kit.Requester, _fields: Mapping[str, str]) -> str:
    """The shop's key asked once; the shop is the number the marketplace answers for."""
    return str((await client.get_json("", operation="shop"))["shopId"])


CONNECTOR = kit.shop_api_connector(kit.Declaration(
    MARKETPLACE, NAME, "tryout_api", FIELDS, LIMITS,
    view=View, client=client_of, parts=parts, probe=probe, settings=TryoutSettings,
    discussions=kit.Declaration.Discussions(("BUYER",), support_sender="Tryout", claim_subject="Tryout"),
    order_ids=kit.OrderIdPattern("T[0-9]{6}", "a Tryout one (T and six digits)"),
))  # fmt: skip
