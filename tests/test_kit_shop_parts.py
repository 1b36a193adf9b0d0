"""The kit's shop parts a connector declares rather than writes: its wire models read
(``reader``, ``read_as``), a person's name in its two parts, ids as path segments,
instants as its queries write them, a reply's files checked
against its ``Limits``, read marks a few at a time within a budget, its client opened on
one ``Opening``, its sessions opened from its client and parts, its settings' view, file origins and address checks (``ShopSettings``) and which items
to read again (``Rereads``). No servers: each part
on data or calls of the test's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import httpx
import msgspec
import pytest
from keybuzz_connector_cdiscount.orders import iso_seconds
from keybuzz_connector_mirakl.orders import iso_millis, shop_orders
from keybuzz_shared.connectors.kit import (
    CallErrors,
    Declaration,
    DeclaredReplies,
    KitSession,
    PersonName,
    ShopSettings,
    iso_z,
    named_in,
    read_as,
    reader,
)
from keybuzz_shared.connectors.kit.json_answers import segment
from keybuzz_shared.connectors.kit.threads import Rereads
from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    CallUnavailable,
    Limits,
    ReplyFile,
    ShopApiSettings,
)
from keybuzz_shared.file_links import FileLinks

from tests.test_kit_discussions import connector

ERRORS = CallErrors.labelled("Shop")
MB = 1024 * 1024


class Item(msgspec.Struct, frozen=True):
    id: int
    name: str = ""


def test_a_page_is_read_into_the_model_and_an_item_off_it_is_said_by_name() -> None:
    items, unreadable = reader(Item, "item")([{"id": 1, "extra": True}, {"name": "x"}, 3])
    assert items == (Item(1),)  # a field the model does not hold is ignored
    assert len(unreadable) == 2 and all(r.startswith("item off its shape:") for r in unreadable)
    with pytest.raises(ValueError, match="item off its shape"):
        read_as(Item, {"id": "one"}, "item")


def test_a_calls_answer_off_the_models_shape_is_unreadable_saying_what_it_lacks() -> None:
    assert read_as(Item, {"id": 1, "extra": True}, "item", call="GET items") == Item(1)
    with pytest.raises(AnswerUnreadable, match="^GET items answered no item: .*id"):
        read_as(Item, {"name": "x"}, "item", call="GET items")


def test_an_id_is_one_path_segment_or_none() -> None:
    assert segment("a/b c") == "a%2Fb%20c"
    assert [segment(v) for v in ("", " ", ".", "..")] == [None] * 4


def test_instants_are_written_in_utc_to_the_second_or_exactly() -> None:
    moment = datetime(2026, 11, 23, 9, 48, 0, 250_000, tzinfo=UTC)
    assert iso_seconds(moment) == "2026-11-23T09:48:00Z"
    assert iso_seconds(moment, up=True) == "2026-11-23T09:48:01Z"
    assert iso_seconds(moment.replace(microsecond=0), up=True) == "2026-11-23T09:48:00Z"
    assert iso_z(moment) == "2026-11-23T09:48:00.250000Z"


def test_instants_are_written_in_utc_to_the_millisecond_cut_not_rounded() -> None:
    moment = datetime(2026, 11, 23, 10, 48, 0, 250_999, tzinfo=timezone(timedelta(hours=1)))
    assert iso_millis(moment) == "2026-11-23T09:48:00.250Z"
    bounds = shop_orders(None).bounds  # type: ignore[arg-type]  # a window's, as Mirakl holds it
    assert bounds(moment) == datetime(2026, 11, 23, 9, 48, 0, 250_000, tzinfo=UTC)


def test_a_persons_name_is_read_as_its_answer_spells_it_and_joined_from_the_parts_it_has() -> None:
    camel = read_as(PersonName, {"firstName": "Léa", "lastName": "Martin"}, "customer")
    lower = read_as(PersonName, {"firstname": "Léa", "lastname": "Martin"}, "customer")
    snake = read_as(PersonName, {"first_name": "Léa", "last_name": "Martin"}, "customer")
    assert camel.full == lower.full == snake.full == "Léa Martin"
    assert read_as(PersonName, {"lastName": "Martin", "firstName": ""}, "customer").full == "Martin"
    assert read_as(PersonName, {"first": "Léa", "name": "Martin"}, "customer").full is None
    assert read_as(PersonName, {"firstName": "Léa", "lastName": None}, "customer").full == "Léa"
    assert read_as(PersonName, {"firstName": "", "lastName": None}, "customer").full is None
    with pytest.raises(ValueError, match="customer off its shape"):
        read_as(PersonName, {"firstName": 3}, "customer")


def file(name: str, size: int, content_type: str = "application/pdf") -> ReplyFile:
    return ReplyFile(name=name, content_type=content_type, data=b"x" * size)


def test_a_replys_files_are_refused_by_the_first_limit_they_break() -> None:
    limits = Limits(
        max_attachments=2,
        max_attachment_bytes=3 * MB,
        max_file_bytes=2 * MB,
        attachment_formats=("application/pdf",),
        max_text_length=10,
        page_size=10,
    )
    assert (
        DeclaredReplies.refused_files(limits, (file("a.pdf", MB), file("b.pdf", MB)), "Shop")
        is None
    )
    assert "at most 2 files" in (
        DeclaredReplies.refused_files(limits, (file("a.pdf", 1),) * 3, "Shop") or ""
    )
    assert "b.pdf: Shop takes files of at most 2 MB" in (
        DeclaredReplies.refused_files(limits, (file("b.pdf", 2 * MB + 1),), "Shop") or ""
    )
    both = (file("a.pdf", 2 * MB), file("b.pdf", 2 * MB))
    assert "at most 3 MB of files" in (DeclaredReplies.refused_files(limits, both, "Shop") or "")
    text = (file("a.txt", 1, "text/plain"),)
    assert (
        DeclaredReplies.refused_files(limits, text, "Shop")
        == "a.txt: Shop takes only application/pdf files"
    )
    assert DeclaredReplies.refused_files(limits, text, "Shop", accepted=lambda f: True) is None


async def test_read_marks_skip_those_marked_count_refusals_and_stop_at_their_budget() -> None:
    marked: list[str] = []

    async def mark(message_id: str) -> None:
        if message_id == "lost":
            raise ERRORS.refused("PATCH", 404, "no such message")
        if message_id == "slow":
            await asyncio.sleep(5)
        marked.append(message_id)

    marks = KitSession.ReadMarks(mark, ERRORS, "PATCH messages", budget=0.2)
    assert await marks.mark_read(["a", "lost", "b", "a"]) == 1
    assert await marks.mark_read(["a", "b", "c"]) == 0
    assert marked == ["a", "b", "c"]  # each once
    with pytest.raises(CallUnavailable, match="1 messages left to mark read"):
        await marks.mark_read(["slow", "d"])
    assert "d" in marked


class View(ShopApiSettings, frozen=True, kw_only=True):
    auth_url: str


class Acme(ShopSettings, frozen=True, kw_only=True):
    MARKETPLACE: ClassVar[str] = "ACME"
    PREFIX: ClassVar[str] = "acme"
    VIEW: ClassVar[type[ShopApiSettings]] = View
    API_SERVES_FILES: ClassVar[bool] = True

    # The kit's settings every API has, ACME_<NAME>; only what Acme has beyond declared.
    api_url: str = "https://api.acme.example/v1/"
    acme_auth_url: str = "https://auth.acme.example/token"
    first_poll_days: int = 30
    max_attachment_bytes: int = MB

    def view_fields(self) -> dict[str, Any]:
        return {"auth_url": self.acme_auth_url, "listing_overlap_seconds": 60}


def test_shop_settings_give_their_view_with_file_origins_and_check_every_address() -> None:
    settings = Acme()
    view = settings.shop_api("ACME")
    assert isinstance(view, View) and settings.shop_api("OTHER") is None
    assert (view.auth_url, view.call_deadline_seconds) == ("https://auth.acme.example/token", 20.0)
    assert view.attachment_origins == ("https://api.acme.example:443",)
    assert view.listing_overlap_seconds == 60
    given = Acme(attachment_origins="https://files.acme.example")
    assert given.file_origins == ("https://files.acme.example",)
    with pytest.raises(ValueError, match="ACME_AUTH_URL"):
        Acme(acme_auth_url="ftp://auth.acme.example/")
    with pytest.raises(ValueError, match="ACME_ATTACHMENT_ORIGINS"):
        Acme(attachment_origins="files.acme.example")


def test_the_accounts_an_answer_names_are_its_items_values_of_the_kinds_asked() -> None:
    items = [{"seller": 12}, {"seller": "13"}, {"seller": None}, {"other": 1}, "x"]
    assert named_in(items, "seller") == [12, "13"]
    assert named_in(items, "seller", (int,)) == [12]
    assert named_in({"seller": 12}, "seller") == []


def test_an_item_is_read_again_until_its_reading_is_stored_then_only_when_it_changes() -> None:
    rereads = Rereads[int](max_gap=4)
    t0, t1 = datetime(2026, 11, 25, 9, tzinfo=UTC), datetime(2026, 11, 25, 10, tzinfo=UTC)
    since = t0
    # Not known stored: read at every listing from the same since, then ever further apart.
    readings = [rereads.worth_reading(7, t0, since) for _ in range(12)]
    assert readings == [True, True, False, True, False, False, True] + [False] * 4 + [True]
    rereads.confirm(t1)  # a later listing: the poller stored what was read
    assert not rereads.worth_reading(7, t0, t1)
    assert rereads.worth_reading(7, t1, t1)  # a new change


def test_a_ledger_forgets_its_oldest_items_past_what_it_keeps() -> None:
    rereads = Rereads[int](kept=2)
    t0, t1 = datetime(2026, 11, 25, 9, tzinfo=UTC), datetime(2026, 11, 25, 10, tzinfo=UTC)
    for key in (1, 2, 3):
        assert rereads.worth_reading(key, t0, t0)
    rereads.confirm(t1)
    assert rereads.worth_reading(1, t0, t1)  # forgotten: read again
    assert not rereads.worth_reading(3, t0, t1)


async def test_a_session_is_the_parts_on_the_client_opened_on_one_opening() -> None:
    """The opening carries the session's options and its file links among them."""
    opened: list[tuple[Declaration.Opening[View], View]] = []

    def parts(opening: Declaration.Opening[View], api: View) -> KitSession:
        opened.append((opening, api))
        return KitSession(verify=lambda: asyncio.sleep(0))

    view = Acme().shop_api("ACME")
    assert isinstance(view, View)
    files = FileLinks(["https://files.acme.example"], inside_allowed=False)
    shop_api = connector("Acme", view=View, parts=parts, settings=Acme).shop_api
    async with httpx.AsyncClient() as http:
        session = shop_api.session({"key": "k"}, http=http, settings=view, files=files)
    assert isinstance(session, KitSession)
    ((opening, api),) = opened
    assert (opening.credentials, opening.http, opening.api, api) == ({"key": "k"}, http, view, view)
    assert opening.options == {"files": files, "call_deadline": 20.0, "max_backoff": 20.0}
