"""The kit's parts a connector declares around its calls rather than writes: a firewall's
challenge read as a hold (``challenge_held``), a page-numbered listing's call of
``results`` and ``next`` (``JsonAnswers.listing``'s by page), a discussion's replies checked before any
call (``DeclaredReplies``) and a message's file given as a link (``linked_file``). No servers: each part on answers and calls of the test's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from keybuzz_connector_backmarket.care import linked_file
from keybuzz_connector_backmarket.connector import challenge_held
from keybuzz_shared.connectors.kit import CallErrors, JsonAnswers, Listing
from keybuzz_shared.connectors.kit.threads import DeclaredReplies
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallRefused,
    InboxFile,
    InboxMessage,
    Limits,
    Reply,
    ReplyFile,
    ThreadKey,
)

ERRORS = CallErrors.labelled("Shop")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HELD = challenge_held


def answer(status: int, content_type: str, server: str = "nginx") -> httpx.Response:
    return httpx.Response(status, headers={"content-type": content_type, "server": server})


@pytest.mark.parametrize(
    ("response", "document"),
    [
        (answer(403, "text/html; charset=utf-8"), None),
        (answer(403, "application/json", server="cloudflare"), {}),
        (answer(403, "application/json"), {"errors": [{"code": "bot-need-challenge"}]}),
    ],
    ids=["an HTML page", "cloudflare", "the challenge's code"],
)
def test_a_firewalls_challenge_holds_the_shop(response: httpx.Response, document: Any) -> None:
    held = HELD(response, document)
    assert held is not None and held.seconds == 60.0 and "Back Market's firewall" in held.reason


@pytest.mark.parametrize(
    ("response", "document"),
    [
        (answer(403, "application/json"), {"errors": [{"code": "forbidden"}]}),
        (answer(403, "application/json"), {"detail": "Authenticated user not allowed"}),
        (answer(401, "text/html"), None),
    ],
)
def test_another_refusal_is_no_challenge(response: httpx.Response, document: Any) -> None:
    assert HELD(response, document) is None


class Pages:
    """A listing's pages by number, answered from the test's own table (a page it lacks:
    404); each query asked kept."""

    errors = ERRORS

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.asked: list[dict[str, str]] = []

    async def get_json(self, path: str, params: dict[str, str], *, operation: str = "") -> Any:
        self.asked.append(params)
        if params["page"] not in self.pages:
            raise ERRORS.refused("GET items", 404, "Invalid page.")
        return self.pages[params["page"]]


def numbered(client: Any, **options: Any) -> Listing.Fetch[bool]:
    return JsonAnswers(client).listing("/items", Listing.PageNumbers(), "since", **options).fetch


async def test_a_results_page_says_whether_another_follows() -> None:
    client: Any = Pages({"1": {"results": [1, 2], "next": "p2"}, "2": {"results": [3]}})
    fetch = numbered(client, most=2)
    assert await fetch({"page": "1"}, None) == ([1, 2], True)
    assert await fetch({"page": "2"}, None) == ([3], False)


async def test_a_page_past_the_last_ends_a_listing_that_shrinks_and_no_other() -> None:
    client: Any = Pages({"1": {"results": [1], "next": "p2"}})
    assert await numbered(client, shrinks=True)({"page": "2"}, None) == (
        [],
        False,
    )
    with pytest.raises(CallRefused):
        await numbered(client)({"page": "2"}, None)
    with pytest.raises(CallRefused):  # the first page missing is no end: it is refused
        await numbered(Pages({}), shrinks=True)({"page": "1"}, None)


async def test_a_page_larger_than_its_size_or_without_results_is_unreadable() -> None:
    client: Any = Pages({"1": {"results": [1, 2, 3]}, "2": {"items": []}})
    with pytest.raises(CallAnswerUnreadable, match="3 items on a page of 2"):
        await numbered(client, most=2)({"page": "1"}, None)
    with pytest.raises(CallAnswerUnreadable):
        await numbered(client)({"page": "2"}, None)


class Posted:
    """The replies posted, and a discussion's messages as read back."""

    def __init__(self) -> None:
        self.sent: list[Reply] = []

    async def post(self, reply: Reply) -> None:
        if reply.body == "refused":
            raise ERRORS.refused("POST msg", 400, "no such thing")
        self.sent.append(reply)

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        if discussion_id == "404":
            raise ERRORS.refused("GET", 404, "gone")
        return []


def replies(posted: Posted) -> DeclaredReplies:
    limits = Limits(max_attachments=1, max_attachment_bytes=10, max_text_length=100, page_size=10)
    return DeclaredReplies(
        "Shop",
        "folder",
        post=posted.post,
        listed=posted.listed,
        recipients=("BUYER",),
        limits=limits,
        is_id=str.isdigit,
    )


def reply(thread: str = "12", **fields: Any) -> Reply:
    return Reply(
        **{
            "thread": ThreadKey("DISCUSSION", thread),
            "in_reply_to": "m1",
            "body": "Bonjour",
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("refused", "said"),
    [
        (reply(recipient="MARKETPLACE_SUPPORT"), "not MARKETPLACE_SUPPORT"),
        (
            reply(
                attachments=(
                    ReplyFile(name="a.pdf", content_type="application/pdf", data=b"x" * 11),
                )
            ),
            "Shop takes",
        ),
        (reply("../7"), "is not a Shop folder"),
        (reply(body="refused"), "no such thing"),
    ],
    ids=["a recipient", "files", "an id", "refused by the call"],
)
async def test_a_reply_the_marketplace_would_refuse_fails_before_any_call(
    refused: Reply, said: str
) -> None:
    posted = Posted()
    outcome = await replies(posted).reply(refused)
    assert outcome.status == "FAILED" and said in (outcome.reason or "")
    assert posted.sent == []


async def test_a_reply_is_posted_and_a_forgotten_discussion_reads_back_none() -> None:
    posted = Posted()
    declared = replies(posted)
    assert (await declared.reply(reply())).status == "SENT" and len(posted.sent) == 1
    assert await declared.sent_messages(ThreadKey("DISCUSSION", "404"), T0) == []


@pytest.mark.parametrize(
    ("url", "name", "media"),
    [
        ("https://files.example/a/b/photo%201.jpg?sig=x", "photo 1.jpg", "image/jpeg"),
        ("https://files.example/a/7/", "7", "application/octet-stream"),
        ("https://files.example/notice.pdf", "notice.pdf", "application/pdf"),
    ],
)
def test_a_linked_file_is_named_by_its_link_else_its_id(url: str, name: str, media: str) -> None:
    assert linked_file(url, "7") == InboxFile(name=name, url=url, content_type=media)
