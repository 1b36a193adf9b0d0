"""The kit's declared parts of a discussion API, without servers: replies whose post reads
the discussion first and may say why it kept one unsent, and a rule of the connector's
own for the rest (``DeclaredReplies``' ``post`` and ``refused``), a file's media type
from its format or its name (``media_type_of``), an order's path by its id (``EachById``)
and credentials read from a shop's fields and shown without their secrets
(``credentials_as``, ``Redacted``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_shared.connectors.kit import CallErrors, key_field, shop_number_field
from keybuzz_shared.connectors.kit.auth import Redacted, credentials_as
from keybuzz_shared.connectors.kit.orders import EachById
from keybuzz_shared.connectors.kit.threads import DeclaredReplies, media_type_of
from keybuzz_shared.connectors.seam import InboxMessage, Reply, ThreadKey

from tests.test_kit_replies import message

ERRORS = CallErrors.labelled("Shop")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DISCUSSION = ThreadKey("DISCUSSION", "42")


# --- DeclaredReplies: a post that reads the discussion first --------------------------

# A discussion as the scripted marketplace gives it: its id and its messages' (id, sender).
Thread = tuple[str, list[tuple[str, str]]]


class Marketplace:
    """Discussions by id (an unknown one closed), the replies posted, the threads read."""

    def __init__(self) -> None:
        self.threads: dict[str, Thread] = {"42": ("42", [("m1", "BUYER"), ("m2", "SELLER")])}
        self.posted: list[Reply] = []

    async def post(self, reply: Reply) -> str | None:
        if reply.thread.id not in self.threads:
            return f"discussion {reply.thread.id} is closed at Shop"
        self.posted.append(reply)
        return None

    async def listed(self, thread_id: str) -> list[InboxMessage]:
        if thread_id not in self.threads:
            raise ERRORS.refused("GET discussion", 404, "unknown")
        return [message(m, sender, NOW, DISCUSSION) for m, sender in self.threads[thread_id][1]]


def replies(shop: Marketplace) -> DeclaredReplies:
    return DeclaredReplies(
        "Shop",
        "conversation",
        post=shop.post,
        listed=shop.listed,
        refused=lambda reply: "too long" if len(reply.body) > 20 else None,
    )


def reply(body: str = "Bonjour", thread: ThreadKey = DISCUSSION) -> Reply:
    return Reply(thread=thread, in_reply_to="m1", body=body)


async def test_a_reply_is_posted_once_and_said_sent() -> None:
    shop = Marketplace()
    outcome = await replies(shop).reply(reply())
    assert outcome.status == "SENT" and [r.body for r in shop.posted] == ["Bonjour"]


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (reply("a reply far too long to go"), "too long"),
        (reply(thread=ThreadKey("DISCUSSION", "7")), "discussion 7 is closed at Shop"),
    ],
    ids=["the connector's own rule", "the post's reason"],
)
async def test_a_reply_the_rules_refuse_is_failed_unposted(sent: Reply, reason: str) -> None:
    shop = Marketplace()
    outcome = await replies(shop).reply(sent)
    assert outcome.status == "FAILED" and reason in (outcome.reason or "")
    assert not shop.posted


async def test_the_read_back_lists_the_sellers_messages() -> None:
    found = await replies(Marketplace()).sent_messages(DISCUSSION, NOW - timedelta(minutes=1))
    assert [m.message_id for m in found] == ["m2"]


# --- media_type_of, EachById's paths, Redacted ----------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("file.pdf", "scan"), "application/pdf"),
        (("file.zzz", "photo.JPG"), "image/jpeg"),
        (("file.", "facture"), "application/octet-stream"),
        ((), "application/octet-stream"),
    ],
)
def test_a_media_type_is_the_first_name_known(names: tuple[str, ...], expected: str) -> None:
    assert media_type_of(*names) == expected


@pytest.mark.parametrize(
    ("order_id", "path"),
    [("2611230948AAACH", "/orders/2611230948AAACH"), ("a/../b", "/orders/a%2F..%2Fb")],
)
async def test_an_items_path_is_its_id_as_one_segment(order_id: str, path: str) -> None:
    assert await asked_for(order_id) == [path]


@pytest.mark.parametrize("order_id", ["", " ", ".", ".."])
async def test_an_id_that_cannot_be_a_segment_has_no_path(order_id: str) -> None:
    assert await asked_for(order_id) == []


async def asked_for(order_id: str) -> list[str]:
    """The paths ``EachById`` asks for the order ``order_id``."""
    asked: list[str] = []

    async def get(path: str) -> Any:
        asked.append(path)
        return {}

    await EachById(get, "/orders").orders([order_id], lambda raw: ((), ()))
    return asked


class Keys(Redacted, frozen=True, kw_only=True):
    SECRETS = frozenset({"secret"})

    client_id: str
    secret: str


def test_credentials_are_shown_without_their_secrets() -> None:
    shown = repr(Keys(client_id="app-1", secret="s3cr3t-value"))
    assert shown == "Keys(client_id='app-1', secret=[REDACTED])"
    assert "s3cr3t" not in str([Keys(client_id="app-1", secret="s3cr3t-value")])


FIELDS = (
    key_field("client_id", "App", max_length=64, secret=False),
    key_field("secret", "Key", max_length=64),
    shop_number_field("shop", "Shop"),
)


class ShopKeys(Redacted, frozen=True, kw_only=True):
    SECRETS = frozenset({"secret"})

    client_id: str
    secret: str
    shop: str


def test_credentials_are_read_from_the_shops_fields_the_account_canonical() -> None:
    stored = {"client_id": " app-1", "secret": " s3cr3t ", "shop": "0043115", "other": "x"}
    keys = credentials_as(ShopKeys, FIELDS, stored, "Shop")
    assert (keys.client_id, keys.secret, keys.shop) == (" app-1", " s3cr3t ", "43115")


def test_credentials_missing_a_field_are_refused_naming_it_not_a_value() -> None:
    with pytest.raises(ValueError, match="Shop credentials lack shop") as refused:
        credentials_as(ShopKeys, FIELDS, {"client_id": "app-1", "secret": "s3cr3t"}, "Shop")
    assert "s3cr3t" not in str(refused.value)
