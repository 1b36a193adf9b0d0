"""A listing's page decoded from the marketplace's bytes straight into the connector's
types (kit/listing.py, ``Requester.get_json``'s ``shape``), over a real HTTP server:
the page's list kept as each item's bytes, each item decoded alone, so that an item off its
shape is left out and said while the rest of the page is read; a page off its own shape is
garbled (asked again, or not within a paced call)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import msgspec
import pytest
from keybuzz_shared.connectors.kit import read_as, reader

from tests.test_connector_kit import (  # noqa: F401 (the fixtures)
    KitUnreadable,
    Reply,
    Script,
    http,
    keyed,
    server,
)


class Item(msgspec.Struct, frozen=True):
    id: str
    at: datetime


class ItemPage(msgspec.Struct, frozen=True):
    data: list[msgspec.Raw]
    next_page_token: str | None = None


def test_each_item_is_decoded_alone_one_off_its_shape_said() -> None:
    page = msgspec.json.decode(
        b'{"data": [{"id": "a", "at": "2026-11-01T00:00:00Z"}, {"id": 2}, [],'
        b' {"id": "c", "at": "2026-11-02T00:00:00Z", "extra": {"kept": "out"}}]}',
        type=ItemPage,
    )
    items, unreadable = reader(Item, "item")(page.data)
    assert [i.id for i in items] == ["a", "c"]
    assert items[1].at == datetime(2026, 11, 2, tzinfo=UTC)
    assert len(unreadable) == 2
    assert all(reason.startswith("item off its shape") for reason in unreadable)
    assert "$.id" in unreadable[0]
    with pytest.raises(ValueError, match="item off its shape"):
        read_as(Item, b'{"id": "x", "at": "' + b"[" * 5000, "item")


async def test_a_page_is_read_from_its_bytes_an_item_off_its_shape_costs_only_it(
    server: tuple[str, Script],  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    base, script = server
    script.replies["/api/items"] = [
        Reply(
            body={
                "data": [
                    {"id": "a", "at": "2026-11-01T00:00:00Z"},
                    {"id": "b", "at": "not a date"},
                    {"id": "c", "at": "2026-11-02T00:00:00Z"},
                ],
                "next_page_token": "t2",
            }
        )
    ]
    requester = keyed(base, http)
    page = await requester.get_json("items", operation="M11", shape=ItemPage)
    assert isinstance(page, ItemPage) and page.next_page_token == "t2"
    items, unreadable = reader(Item, "item")(page.data)
    assert [i.id for i in items] == ["a", "c"]
    [said] = unreadable
    assert said.startswith("item off its shape") and "$.at" in said

    # A page off its own shape is garbled: asked again within a read, not within a paced
    # call (its marketplace counted it).
    script.replies["/api/pages"] = [Reply(body={"items": []}), Reply(body={"data": []})]
    assert (await requester.get_json("pages", shape=ItemPage)).data == []
    assert script.hits("/api/pages") == 2
    script.replies["/api/paced"] = [Reply(body={"data": "none"})]
    with pytest.raises(KitUnreadable, match="not of its shape"):
        await requester.get_json("paced", operation="M11", paced=True, shape=ItemPage)
    assert script.hits("/api/paced") == 1


def test_a_key_given_twice_is_read_as_its_last_value() -> None:
    """A bogus first value (null where a text is) does not cost the item: the typed decoder
    refuses it, the bytes are read again as a JSON value, whose last value of a key wins."""
    twice = b'{"id": null, "id": "a", "at": null, "at": "2026-11-01T00:00:00Z"}'
    assert read_as(Item, twice, "item") == Item("a", datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="item off its shape"):
        read_as(Item, b'{"id": "a", "at": "2026-11-01T00:00:00Z", "id": null}', "item")
    with pytest.raises(ValueError, match="item off its shape"):
        read_as(Item, b'{"id": "a", "at": ' + b"9" * 5000 + b"}", "item")
