"""The Rakuten France connector declared for the kit (docs/RAKUTEN.md): every call a GET
of ``sales_ws``, the token in its query string the requester's secret ("Connecting a seller")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import (
    Limits,
    OrderSummary,
    Reply,
    ShopApiSettings,
    read_each,
)

from keybuzz_connector_rakuten import wire
from keybuzz_connector_rakuten.settings import RAKUTEN, RakutenSettings

# Each action's version [observed: cnsi-sd/crm for the first two; assumed for the others].
VERSIONS = {
    "getitemtodolist": "2011-09-01",
    "getiteminfos": "2017-08-07",
    "contactuseraboutitem": "2011-02-02",
    "contactusaboutitem": "2011-09-01",
    "getcurrentsales": "2018-06-29",
}
# The seller's login (its pseudonym, a letter first [assumed]: the account the connection
# is, in any case) and the token Rakuten issues in its account, typed as shown there.
CREDENTIAL_FIELDS = (
    kit.account_field(
        "login",
        "Rakuten login (seller pseudonym)",
        "[A-Za-z][A-Za-z0-9._-]{0,63}",
        "a letter, then letters, digits, '.', '_' or '-'",
        64,
    ),
    kit.key_field("token", "Web services token", max_length=128),
)
# A page of the items to do: each item read is one getiteminfos call.
LIMITS = Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=2000, page_size=20)
# Rakuten's purchase ids are whole numbers [observed: nine digits in its mails' subjects].
ORDER_IDS = kit.OrderIdPattern("[1-9][0-9]{7,11}", "a Rakuten one (a purchase number)", before=".,")


class RakutenClient(kit.Requester):
    """One seller's calls, each with its login and token."""

    def __init__(self, shop: kit.Declaration.Opening[ShopApiSettings]) -> None:
        self.login, token = shop.credentials["login"], shop.credentials["token"]
        auth = kit.HeaderAuth({}, params={"login": self.login, "pwd": token}, secrets=(token,))
        seller = {"seller": self.login}
        super().__init__(wire.SPEC, auth, shop.http, shop.api.api_url, shop=seller, **shop.options)

    async def action(
        self, action: str, params: Mapping[str, str] | None = None, *, sends: bool = False
    ) -> wire.Answer:
        """The answer of ``action``; one that ``sends`` a message is never asked twice."""
        query = {"action": action, "version": VERSIONS[action], **(params or {})}
        answer: wire.Answer = await self.request(
            "GET", "sales_ws", query, name=action, idempotent=not sends
        )
        return answer

    async def item(self, item_id: str) -> wire.Item:
        return wire.item_of(await self.action("getiteminfos", {"itemid": item_id}), self.login)


def _item_id(item_id: str) -> int:
    """A to-do item's id as a whole number (Rakuten's are [observed])."""
    if not item_id.isdigit():
        raise ValueError(f"item {item_id!r}: not a whole number")
    return int(item_id)


def inbox(client: RakutenClient) -> kit.KitSession.ReadInTurn[int, wire.Item]:
    """The items to do, listed at once (getitemtodolist dates nothing), each read whole
    (getiteminfos) from ``since`` less a minute: Rakuten dates to the minute."""

    async def todo(_query: dict[str, str], _link: str | None) -> tuple[list[str], bool]:
        found = wire.result(await client.action("getitemtodolist"), "getitemtodolistresult")
        ids = (item.text("itemid") for item in found.all("items/item"))
        return list(dict.fromkeys(i for i in ids if i)), False  # each once, in their order

    return kit.KitSession.ReadInTurn(
        kit.Listing(kit.Listing.PageNumbers[int](), lambda _low, _high: {}, todo),
        lambda raw: read_each(raw, _item_id),
        lambda item_id: (item_id, None),
        item=todo_item(client),
        page_size=LIMITS.page_size,
        from_since=timedelta(minutes=1),
    )


def todo_item(client: RakutenClient) -> kit.KitSession.ReadInTurn.Item[wire.Item]:
    """An item's messages and mails (getiteminfos); none carries a file [assumed]."""
    return kit.KitSession.ReadInTurn.Item(
        client.item, lambda item: item.messages, "item", unreadable_in=lambda item: item.unreadable
    )


def replies(client: RakutenClient) -> kit.DeclaredReplies:
    """To the buyer (contactuseraboutitem) or to Rakuten's customer service
    (contactusaboutitem, the item's latest mail its parent) [official]."""

    async def post(reply: Reply) -> None:
        item, text = reply.thread.id, reply.body
        if reply.recipient == "MARKETPLACE_SUPPORT":
            parent = (await client.item(item)).latest_mail
            parents = {"mailparentid": parent} if parent else {}
            await client.action(
                "contactusaboutitem", {"itemid": item, "message": text, **parents}, sends=True
            )
        else:
            await client.action(
                "contactuseraboutitem", {"itemid": item, "content": text}, sends=True
            )

    return todo_item(client).replies(
        wire.LABEL,
        post,
        carried=wire.carried,
        dated_to=timedelta(minutes=1),  # a reply sent at 10:00:59 is listed at 10:00
    )


def _sales(client: RakutenClient) -> kit.ListedOrders:
    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        return wire.sales_page(await client.action("getcurrentsales", query))

    tokens = kit.Listing.SeekToken[OrderSummary](lambda o: o.created_at, token_param="nexttoken")
    # Rakuten gives no sale by id (no ``by_id``): the current sales, read whole, those asked kept.
    return kit.ListedOrders(
        updated=kit.Listing(tokens, lambda low, high: {}, fetch),
        created=kit.Listing(
            tokens, lambda low, high: {"purchasedate": low.strftime("%Y-%m-%d")}, fetch
        ),
        read=wire.order_of,
        calls=client,
    )


def session_of(client: RakutenClient, api: ShopApiSettings | None = None) -> kit.KitSession:
    return kit.KitSession(inbox(client), replies(client), _sales(client))


async def probe(client: RakutenClient, credentials: Mapping[str, str]) -> str:
    """One getitemtodolist with the login and token: Rakuten names the seller it answers
    for (``request/user`` [assumed]); a token of another seller is refused."""
    answer = await client.action("getitemtodolist")
    named = [u] if (u := wire.ANSWERS.node(answer.root).text("request/user")) else []
    return kit.own_account(CREDENTIAL_FIELDS, credentials["login"], named, wire.ERRORS)


# Whom a reply may go to, Rakuten's rule asked before the reply is queued (wire.py).
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=("BUYER", "MARKETPLACE_SUPPORT"),
    support_sender=wire.SUPPORT_SENDER,
    claim_subject="Réclamation",
    carried=wire.carried,
    gate=wire.reply_refusal,
)
CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        RAKUTEN,
        "Rakuten",
        CREDENTIAL_FIELDS,
        LIMITS,
        client=RakutenClient,
        parts=session_of,
        probe=probe,
        settings=RakutenSettings,
        discussions=DISCUSSIONS,
        order_ids=ORDER_IDS,
    )
)
