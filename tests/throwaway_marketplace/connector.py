"""A throwaway marketplace's connector, made from the kit as a new one is: its declaration
(marketplace, credential form, limits, settings, error labels, listing) and its mappings
(the marketplace's JSON → the seam's types). Its double: ``double.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
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
    MARKETPLACE = "TRYOUT"  # read from TRYOUT_<NAME>
    api_url: str = "http://127.0.0.1:9/tryout/api/"


def client_of(opening: kit.Declaration.Opening[View]) -> kit.Requester:
    fields = opening.credentials
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


READ = kit.reader(Said, "a message")


def messages_inbox(
    client: kit.Requester, listing: kit.Listing[Said, Any, Any]
) -> kit.KitSession.ListedThreads[Said]:
    """Messages listed, not threads: each a thread of one, whole."""

    async def mapper() -> Callable[[Said], Sequence[seam.InboxMessage]]:
        return lambda said: (message_of(said),)

    async def whole(said: Said) -> Said:
        return said

    return kit.KitSession.ListedThreads(
        listing,
        READ,
        complete=lambda _: True,
        read_whole=whole,
        mapper=mapper,
        named=lambda _: "a message",
        files=lambda file, most: client.get_bytes(file.url, most),
    )


def parts(client: kit.Requester, _api: View) -> kit.KitSession:
    answers = kit.JsonAnswers(client, items="messages", follows="more")
    paging = kit.Listing.PageNumbers[Said]()
    listing = answers.listing("messages", paging, "since", operation="list_messages")
    inbox = messages_inbox(client, listing)

    async def send(reply: seam.Reply) -> None:
        await client.request(
            "POST", f"threads/{reply.thread.id}", body={"body": reply.body}, idempotent=False
        )

    async def listed(thread_id: str) -> list[seam.InboxMessage]:
        said, _ = await answers.page(f"threads/{thread_id}", {}, operation="list_messages")
        return [message_of(s) for s in READ(said)[0]]

    replies = kit.DeclaredReplies(NAME, "thread", post=send, listed=listed)
    return kit.KitSession(inbox, replies, verify=lambda: client.get_json("", operation="shop"))


async def probe(client: kit.Requester, _fields: Mapping[str, str]) -> str:
    """The shop's key asked once; the shop is the number the marketplace answers for."""
    return str((await client.get_json("", operation="shop"))["shopId"])


DECLARATION = kit.Declaration(
    MARKETPLACE,
    NAME,
    FIELDS,
    LIMITS,
    client=client_of,
    parts=parts,
    probe=probe,
    settings=TryoutSettings,
    discussions=kit.Declaration.Discussions(
        ("BUYER",), support_sender="Tryout", claim_subject="Tryout"
    ),
    order_ids=kit.OrderIdPattern("T[0-9]{6}", "a Tryout one (T and six digits)"),
)
CONNECTOR = kit.shop_api_connector(DECLARATION)
