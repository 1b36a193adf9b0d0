"""The double kit's pieces the doubles now share: an admin lookup's 404 and a clock moved
back's 400, issued tokens that expire and are withdrawn, an order's life drawn the same
from the same seed, a listing's page, a seller's reply as the faults show it, a multipart
or JSON body read or refused."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from keybuzz_sandbox.double_kit.admin import admin_router, forward, known, settings_handlers
from keybuzz_sandbox.double_kit.api import (
    Part,
    Refused,
    decoded,
    multipart,
    page_of,
    query_choice,
    query_int,
    seller_reply,
)
from keybuzz_sandbox.double_kit.draws import rng
from keybuzz_sandbox.double_kit.history import (
    MAX_LIFECYCLE,
    Lifecycle,
    order_path,
    shipping_path,
)
from keybuzz_sandbox.double_kit.model_structs import model_structs
from keybuzz_sandbox.double_kit.routes import operation_route
from keybuzz_sandbox.double_kit.streams import DrawnStreams
from keybuzz_sandbox.double_kit.tokens import Issued
from keybuzz_sandbox.faults import ReplyFaults
from litestar import Litestar, get
from litestar.params import FromPath


async def test_an_admin_lookup_of_nothing_is_a_404_and_a_clock_moved_back_a_400() -> None:
    shops = {"7": "KeyBuzz Démo"}

    @get("/shops/{number:str}", sync_to_thread=False)
    def shop(number: FromPath[str]) -> dict[str, str]:
        return {"name": known(shops.get(number), f"shop {number}")}

    @get("/advance/{seconds:int}", sync_to_thread=False)
    def advance(seconds: FromPath[int]) -> dict[str, float]:
        return {"advanced": forward(seconds)}

    app = Litestar([admin_router("/_sandbox/kit", [shop, advance])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        found = await http.get("/_sandbox/kit/shops/7")
        missing = await http.get("/_sandbox/kit/shops/8")
        ahead, back = (
            await http.get("/_sandbox/kit/advance/60"),
            await http.get("/_sandbox/kit/advance/0"),
        )
    assert (found.status_code, found.json()) == (200, {"name": "KeyBuzz Démo"})
    assert (missing.status_code, missing.json()) == (404, {"error": "unknown shop 8"})
    assert (ahead.status_code, ahead.json()) == (200, {"advanced": 60})
    assert (back.status_code, back.json()) == (400, {"error": "seconds must be > 0"})


class _Lag(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    lag_seconds: float = 1.0

    def problems(self) -> list[str]:
        return [] if 0 <= self.lag_seconds <= 900 else ["lagSeconds must be between 0 and 900"]


async def test_a_doubles_settings_are_read_replaced_when_sound_and_reset() -> None:
    held = [_Lag()]
    handlers = settings_handlers("/lag", _Lag, lambda: held[-1], held.append)
    app = Litestar([admin_router("/_sandbox/kit", handlers)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        replaced = await http.put("/_sandbox/kit/lag", json={"lagSeconds": 30})
        refused = await http.put("/_sandbox/kit/lag", json={"lagSeconds": -1})
        unknown = await http.put("/_sandbox/kit/lag", json={"lag": 30})
        kept = await http.get("/_sandbox/kit/lag")
        reset = await http.delete("/_sandbox/kit/lag")
        after = await http.get("/_sandbox/kit/lag")
    assert (replaced.status_code, replaced.json()) == (200, {"lagSeconds": 30.0})
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "lagSeconds must be between 0 and 900"},
    )
    assert unknown.status_code == 400 and kept.json() == {"lagSeconds": 30.0}
    assert reset.status_code == 204 and after.json() == {"lagSeconds": 1.0}


class _Clock:
    def __init__(self) -> None:
        self.at = 1_000.0

    def now(self) -> float:
        return self.at


class _Grant(msgspec.Struct, frozen=True):
    shop: str
    expires_at: float


def test_issued_tokens_expire_are_withdrawn_and_codes_redeem_once() -> None:
    clock = _Clock()
    tokens: Issued[_Grant] = Issued(clock)
    tokens.issue("a", _Grant("demo", 1_010.0))
    tokens.issue("b", _Grant("bench", 1_100.0))
    assert tokens.valid("a") == _Grant("demo", 1_010.0) and tokens.valid("z") is None
    clock.at = 1_010.0  # its expiry: no longer valid, dropped at the next issue
    assert tokens.valid("a") is None
    tokens.issue("c", _Grant("demo", 1_200.0))
    assert set(tokens.grants) == {"b", "c"}
    assert tokens.withdraw(lambda grant: grant.shop == "demo") == 1
    assert tokens.redeem("b") == _Grant("bench", 1_100.0) and tokens.redeem("b") is None


def test_an_operations_described_path_is_served_with_its_parameters_read_as_text() -> None:
    async def handler() -> None:
        return None

    served = operation_route("/api/{shop}/orders/{order_id}/{n:int}", "patch", "m.op", handler)
    assert served.paths == {"/api/{shop:str}/orders/{order_id:str}/{n:int}"}
    assert served.http_methods == {"PATCH"} and served.name == "m.op"


def test_a_struct_read_from_a_model_takes_its_fields_alone_and_requires_its_required() -> None:
    schemas = {
        "Money": {"properties": {"CurrencyCode": {}, "Amount": {}}, "required": ["Amount"]},
    }
    (money,) = model_structs(schemas, "Money")
    assert msgspec.json.encode(money(Amount="9.90")) == b'{"Amount":"9.90"}'  # None: absent
    assert msgspec.json.decode(msgspec.json.encode(money(Amount="0", CurrencyCode="EUR"))) == {
        "CurrencyCode": "EUR",  # the model's order
        "Amount": "0",
    }
    with pytest.raises(TypeError, match="Currency"):
        money(Amount="1", Currency="EUR")  # a field the model does not name
    with pytest.raises(TypeError, match="Amount"):
        money(CurrencyCode="EUR")  # a required one left out


def test_an_orders_life_is_drawn_the_same_and_read_at_any_moment() -> None:
    names = ("Accepted", "ToShip", "Shipped", "Received")
    path = shipping_path(rng("seed", "shop", 3), 0.0, names)
    assert path == shipping_path(rng("seed", "shop", 3), 0.0, names)
    assert [state for _, state in path] == list(names[: len(path)]) and len(path) >= 3
    order = Lifecycle(events=((0.0, "Created"), *path))
    assert order.state_at(-1.0) is None and order.state_at(0.0) == ("Created", 0.0)
    shipped = order.reached("Shipped")
    assert shipped is not None and order.state_at(shipped) == ("Shipped", shipped)
    assert order.reached("Refunded") is None
    assert order.status_at(-1.0) == ("Created", 0.0)  # before its first change: as placed


def test_an_orders_outcome_is_cancelled_refused_or_its_shipping_path() -> None:
    names = ("Accepted", "ToShip", "Shipped", "Received")
    paths = [order_path(rng("seed", "shop", i), 0.0, names) for i in range(400)]
    assert paths[7] == order_path(rng("seed", "shop", 7), 0.0, names)
    ends = {path[0][1] for path in paths}
    assert ends == {"Cancelled", "Refused", "Accepted"}
    assert all(len(path) == 1 for path in paths if path[0][1] != "Accepted")


def test_a_query_reads_a_bounded_integer_and_a_choice_or_is_refused() -> None:
    query = {"pageSize": "20", "sort": "asc"}
    assert query_int(query, "pageSize", 50, (1, 100)) == 20
    assert query_int(query, "pageIndex", 1, (1, 10)) == 1  # absent: the default
    assert query_choice(query, "sort", ("asc", "desc")) == "asc"
    assert query_choice(query, "order", ("asc", "desc")) is None
    for value in ("0", "101", "-1", "x"):
        with pytest.raises(Refused, match="pageSize must be an integer between 1 and 100"):
            query_int({"pageSize": value}, "pageSize", 50, (1, 100))
    with pytest.raises(Refused, match="sort must be one of asc, desc"):
        query_choice({"sort": "up"}, "sort", ("asc", "desc"))


async def test_every_doubles_admin_answers_what_it_lacks_with_the_kits_404(
    client: httpx.AsyncClient,
) -> None:
    """The doubles' admins are served by the kit's router: a shop, a thread or a folder a
    request names that the double does not hold is its 404, never a 500."""
    lacking = [
        ("POST", "/_sandbox/ebay/shops/nobody/revoke", "unknown shop nobody"),
        ("POST", "/_sandbox/ebay/shops/1/threads/c0/messages", "unknown thread c0"),
        ("GET", "/_sandbox/rakuten/shops/nobody/sent", "unknown shop nobody"),
        ("POST", "/_sandbox/rakuten/shops/nobody/rotate-token", "unknown shop nobody"),
        ("GET", "/_sandbox/backmarket/shops/99/sent", "unknown shop 99"),
    ]
    for method, path, error in lacking:
        answered = await client.request(method, path, json={"body": "Bonjour"})
        assert (answered.status_code, answered.json()) == (404, {"error": error}), path


async def test_a_doubles_settings_and_admin_bodies_off_their_declared_bounds_are_a_400(
    client: httpx.AsyncClient,
) -> None:
    """eBay's double takes the shared ``WebPageFaults`` as they are: a negative stall, a hold
    past the hour, a rate above 1 or a negative count is refused as the body is read (a 400
    with a JSON body), the settings held before kept; ManoMano's settings are bounded too. An
    admin body's word off those its double declares (``admin.one_of``) is refused alike,
    before the shop it names is looked for."""
    armed = await client.put("/_sandbox/ebay/faults", json={"stallSeconds": 2})
    assert armed.status_code == 200
    for off in ({"stallSeconds": -1}, {"holdSeconds": 1e9}, {"errorRate": 1.5}, {"failNext": -1}):
        refused = await client.put("/_sandbox/ebay/faults", json=off)
        assert refused.status_code == 400 and refused.json(), off
    kept = (await client.get("/_sandbox/ebay/faults")).json()
    assert (kept["stallSeconds"], kept["holdSeconds"], kept["errorRate"]) == (2, 0, 0)
    for off in ({"garbageNext": -1}, {"slowSeconds": -1}):  # ManoMano's own settings alike
        refused = await client.put("/_sandbox/manomano/faults", json=off)
        assert refused.status_code == 400 and refused.json(), off
    off_words = {
        "/_sandbox/backmarket/shops/0/folders/1/messages": "initiator",
        "/_sandbox/cdiscount/shops/nobody/discussions": "graduation",
        "/_sandbox/mirakl/operators/BOULANGER/shops/0/threads/t/messages": "to",
    }
    for path, field in off_words.items():
        refused = await client.post(path, json={field: ["Merchant"] if field == "to" else "X"})
        said = refused.json()["extra"][0]
        assert refused.status_code == 400 and said["key"].startswith(field), path
        assert "regex" in said["message"], path  # its words, not another check


def test_a_listings_page_says_whether_another_follows_and_plays_the_paging_fault() -> None:
    items = list(range(25))
    assert page_of(items, 1, 10) == (list(range(10)), True)
    assert page_of(items, 3, 10) == ([20, 21, 22, 23, 24], False)
    assert page_of(items, 4, 10) == ([], False)
    # A shop paged as none should: what its fault lists, another always following.
    assert page_of(items, 3, 10, lambda first, following: first[:2]) == ([0, 1], True)


def test_a_sellers_reply_is_shown_and_dated_as_the_shops_faults_say() -> None:
    class Book:
        reply_faults = ReplyFaults(show=str.upper, date=lambda now: now - 60)

    assert seller_reply(Book(), "merci", 1_000.0) == ("MERCI", 940.0)


def test_a_multipart_body_is_read_into_its_parts_and_anything_else_refused() -> None:
    sent = httpx.Request(
        "POST", "http://double", data={"message": "Bonjour"}, files={"files": ("a.pdf", b"%PDF")}
    )
    parts = multipart(sent.headers["content-type"], sent.read())
    assert parts == [Part("message", None, b"Bonjour"), Part("files", "a.pdf", b"%PDF")]
    with pytest.raises(Refused) as refused:
        multipart("application/json", b"{}", "invalid-payload")
    assert (refused.value.status, refused.value.code) == (400, "invalid-payload")


def test_a_json_body_is_decoded_as_its_struct_or_refused_saying_why() -> None:
    class Reply(msgspec.Struct):
        body: str

    assert decoded(b'{"body": "Bonjour"}', Reply, "reply") == Reply("Bonjour")
    for body, why in ((b"{", "reply is not valid JSON"), (b'{"body": 1}', "reply: Expected")):
        with pytest.raises(Refused, match=why) as refused:
            decoded(body, Reply, "reply")
        assert refused.value.status == 400


def test_a_filter_on_changes_reaches_back_to_the_orders_still_changing() -> None:
    """An order placed before a change-date filter's start can change inside it: with
    ``reach`` (how long an order keeps changing) those orders are candidates too; on the
    placing date, only the orders placed within the bounds."""
    day = 86_400.0
    streams = DrawnStreams(("seed", "shop"), 900, 90 * day, 90 * day, 10)
    now, low, high = 90 * day, 60 * day, 70 * day
    placed = streams.placed_in(now, low, high)
    changed = streams.placed_in(now, low, high, MAX_LIFECYCLE)
    assert placed == range(streams.placed_before(low - 1e-6), streams.placed_before(high))
    assert all(low <= streams.purchase_time(i) <= high for i in placed)
    assert changed.stop == placed.stop
    reached = range(changed.start, placed.start)
    assert len(reached) > 0
    assert all(low - MAX_LIFECYCLE <= streams.purchase_time(i) < low for i in reached)
