"""How the conformance suite (tests/conformance/) drives each double, by marketplace value.

The suite runs one set of tests against every registered shop-API connector. It knows no
marketplace: for each it asks ``driver_for(marketplace)`` how to list the double's shops
and their credentials, have a buyer write, read what the seller sent, arm a fault and clear
it, expire a shop's tokens, count its token requests and revoke its credentials. A double joins the suite by
listing its drivers in its ``Double`` (``doubles.py``: found by the sandbox's entry points,
each double's driver in its own package, ``<double>/driver.py``); a registered shop-API
connector with none fails it.

Drivers speak to a running sandbox over HTTP (its admin endpoints under ``/_sandbox``),
as a test does; nothing here runs inside the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from keybuzz_sandbox.doubles import doubles

# What the suite asks a double to do wrong. STALL: no answer for long past the poll's
# deadline; TRICKLE: the answer a byte at a time; UNAVAILABLE: 5xx; then the hostile
# bodies; LOST_REPLY_ANSWER: a reply applied, its answer garbled; HELD_REPLY: a reply
# applied at once, its answer given HELD_REPLY_SECONDS later (the caller has given up);
# REWRITTEN_REPLY: as LOST_REPLY_ANSWER, the reply shown on its thread rewritten as some
# marketplaces do, every way at once, words kept (``faults.rewritten``: typography, emoji,
# invisible characters, re-wrapped lines, escaped twice, markup, NFD);
# REPLY_BEHIND: as LOST_REPLY_ANSWER, the reply dated REPLY_BEHIND_SECONDS before our time
# (a marketplace whose clock is behind ours); BAD_BYTES: a buyer's text holding
# ``faults.NOT_UTF8_MARK`` or ``FORBIDDEN_MARK`` served with bytes no strict decoder takes;
# EMPTY_PAGES_SAY_MORE / PAGES_REPEAT: every page of the shops' listing of messages empty /
# the first page again, each saying another follows (``faults.hostile_page``; the pages
# served counted in the double's fault settings, ``hostilePages``).
Fault = Literal[
    "STALL",
    "TRICKLE",
    "UNAVAILABLE",
    "ENTITY_EXPANSION",
    "TRUNCATED",
    "HUGE",
    "WRONG_CONTENT_TYPE",
    "LOST_REPLY_ANSWER",
    "HELD_REPLY",
    "DEEP_NESTING",
    "HUGE_NUMBER",
    "MISTYPED",
    "DUPLICATE_KEYS",
    "REWRITTEN_REPLY",
    "REPLY_BEHIND",
    "BAD_BYTES",
    "EMPTY_PAGES_SAY_MORE",
    "PAGES_REPEAT",
]
PAGING_FAULTS: dict[Fault, str] = {
    "EMPTY_PAGES_SAY_MORE": "emptyPagesSayMore",
    "PAGES_REPEAT": "pagesRepeat",
}
# Whom a reply goes to (the seam's recipients): the buyer, the marketplace's customer care,
# an operator of the marketplace.
RecipientKind = Literal["BUYER", "MARKETPLACE_SUPPORT", "OPERATOR"]
# Faults a wire format cannot carry, and why: asked of a double answering in it, the case is
# skipped as not applying (any other fault a double lacks is one it cannot answer yet).
WireFormat = Literal["JSON", "XML"]
CANNOT_CARRY: dict[WireFormat, dict[Fault, str]] = {
    "JSON": {"ENTITY_EXPANSION": "JSON has no entities"},
    "XML": {
        "HUGE_NUMBER": "XML has no numbers, only text",
        "DUPLICATE_KEYS": "XML has no keys to give twice (an element may repeat)",
    },
}
HELD_REPLY_SECONDS = 3.0
REPLY_BEHIND_SECONDS = 60.0
RECIPIENT_KINDS: tuple[RecipientKind, ...] = ("BUYER", "MARKETPLACE_SUPPORT", "OPERATOR")


@dataclass(frozen=True)
class DoubleShop:
    """A shop of the double: its name, the id the marketplace knows it by, and its
    credentials by the connector's credential field names (``CredentialField.name``)."""

    name: str
    account: str
    credentials: Mapping[str, str]


@dataclass(frozen=True)
class Written:
    """A message the double's buyer (or customer care) wrote: its id and its order (None:
    a message about no order, as a question on a listing)."""

    message_id: str
    order_id: str | None


class Unsupported(Exception):
    """The double cannot do this (a fault it has no way to make): the case is skipped."""


class ShopDriver(Protocol):
    @property
    def marketplace(self) -> str: ...

    @property
    def api_family(self) -> str:
        """Marketplaces whose shops one API serves share it: their shop ids are one space
        (a shop is one shop whichever of them it is connected under)."""
        ...

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        """The services' settings pointing at the double, with the suite's short deadlines
        (each call cut after two seconds, a poll every two)."""
        ...

    def sandbox_settings(self) -> dict[str, str]:
        """The sandbox's settings the suite needs (spare small shops, no large ones)."""
        ...

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]: ...

    @property
    def shops_listed_at(self) -> str:
        """The admin path listing the double's seeded shops and their credentials."""
        ...

    async def buyer_writes(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> Written:
        """A new message of the buyer about the shop's latest order."""
        ...

    @property
    def recipients(self) -> tuple[RecipientKind, ...]:
        """The recipients the double's threads offer a reply (``thread_for`` makes them)."""
        ...

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        """A buyer's message whose reply the marketplace sends to ``recipient``."""
        ...

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        """To whom (``RecipientKind``) each message the seller sent saying ``text`` went."""
        ...

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        """A new message of the buyer with one file, which the marketplace lists as
        ``reference``: its link where the marketplace links files, its id where files are
        fetched by id through its API."""
        ...

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        """What ``set_fault`` arms for the shops of ``ids``, asking the double nothing:
        Unsupported if it cannot make ``fault`` (a case skipped before it connects a shop)."""
        ...

    async def set_fault(
        self, http: httpx.AsyncClient, fault: Fault, shops: list[DoubleShop] | None = None
    ) -> None:
        """Arms ``fault`` on reading messages (on replying for LOST_REPLY_ANSWER), for
        ``shops`` only where the fault is per shop (STALL, TRICKLE); Unsupported if the
        double cannot make it."""
        ...

    async def clear_faults(self, http: httpx.AsyncClient) -> None: ...

    async def hostile_pages(self, http: httpx.AsyncClient) -> tuple[int, int]:
        """The pages served under EMPTY_PAGES_SAY_MORE or PAGES_REPEAT since armed, and the
        listings they began."""
        ...

    async def expire_tokens(self, http: httpx.AsyncClient, shop: DoubleShop) -> None: ...

    async def token_requests(self, http: httpx.AsyncClient, shop: DoubleShop) -> int:
        """How many token requests for the shop the double has answered."""
        ...

    async def revoke(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        """The seller revokes the credentials (a new key or secret): the old ones fail."""
        ...


@dataclass(frozen=True)
class ConsentApp:
    """Our app as the double registered it: where Vault keeps it (under the ``secret``
    mount) and its fields."""

    path: str
    fields: Mapping[str, str]


@runtime_checkable
class ClosingDriver(Protocol):
    """The double of a marketplace whose connector closes threads (``thread_closing``)."""

    async def closed(self, http: httpx.AsyncClient, shop: DoubleShop) -> list[str]: ...

    async def thread_closed_for_good(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str
    ) -> Written: ...


@runtime_checkable
class ConsentDriver(Protocol):
    """A double whose sellers connect by consenting on the marketplace's site (a connector
    with a ``redirect_flow``): the suite stores the app it registers and goes through its
    consent page as the shop's seller would."""

    async def consent_app(self, http: httpx.AsyncClient, callback_url: str) -> ConsentApp:
        """Registers our callback with the double's app; the app's credentials."""
        ...

    async def consent(
        self, http: httpx.AsyncClient, consent_url: str, shop: DoubleShop, *, decline: bool = False
    ) -> str:
        """The shop's seller consents (or declines) on the page at ``consent_url``: where
        the marketplace sends the browser back (our callback with its parameters)."""
        ...


def answered(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in (statuses or (200,)):
        raise AssertionError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


@dataclass(frozen=True, kw_only=True)
class AdminDriver:
    """What the shop-API doubles' admin endpoints have in common: their fault settings
    (``faults.SlowFaultConfig``), tokens expired and credentials rotated by shop, and
    threads a buyer opens with a text (``threads``: their admin path under a shop). A
    double's driver declares what is its API's (its operations, its admin action, its
    connector's cap) as its fields' defaults; a driver is made with its marketplace."""

    marketplace: str
    admin: str = ""  # the double's admin endpoints; empty: /_sandbox/<marketplace, lower case>
    reading: tuple[str, ...]  # the operations that read a shop's messages
    replying: str  # the operation that sends a reply
    revoking: str  # the admin action that rotates a shop's secret
    answer_cap: int  # the most its connector reads of an answer (its HUGE is one byte more)
    recipients: tuple[RecipientKind, ...] = ("BUYER", "MARKETPLACE_SUPPORT")
    faults_at: str = ""  # where its faults are armed when not at ``admin``
    tokenless: str = ""  # why its shops have no token (none expires, none is requested)
    threads: str = "threads"  # a shop's threads under its admin path
    said: str = "body"  # the field of an opened thread's admin body that holds its text
    thread_id: str = "threadId"  # the id of a thread opened, in the double's answer
    file_reference: str = "id"  # what a file's reference is called in a message's admin body
    wire: WireFormat = "JSON"  # what the marketplace's API answers in
    unpaged: str = ""  # why its listing of messages has no pages to page wrong

    def __post_init__(self) -> None:
        if not self.admin:
            object.__setattr__(self, "admin", f"/_sandbox/{self.marketplace.lower()}")

    @property
    def api_family(self) -> str:
        """The shops one admin lists are one API's: its path names the family."""
        return self.admin

    @property
    def bodies(self) -> dict[str, dict[str, Any]]:
        """The faults the double plays as a status or a body of its own: 5xx, and each
        hostile body of its wire format by its ``malformedKind``; its HUGE answer
        (``faults.malform``'s "huge") one byte over ``answer_cap``, the least that proves
        the cap at the least cost of bytes sent."""
        faults: dict[str, dict[str, Any]] = {"UNAVAILABLE": {"failNext": 1_000, "failStatus": 503}}
        for fault, kind in WIRE_FAULTS[self.wire].items():
            faults[fault] = {"malformedNext": 1_000, "malformedKind": kind}
        faults["HUGE"]["hugeBytes"] = self.answer_cap + 1
        return faults

    @property
    def shops_listed_at(self) -> str:
        """The admin path that lists the double's seeded shops with their credentials."""
        return f"{self.admin}/shops"

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        reading = list(self.reading)
        if fault == "STALL":
            return {"stallSeconds": 60, "stallShops": ids, "operations": reading}
        if fault == "TRICKLE":
            return {"trickleSeconds": 0.2, "trickleShops": ids, "operations": reading}
        if fault == "HELD_REPLY":
            return {
                "holdSeconds": HELD_REPLY_SECONDS,
                "holdShops": ids,
                "operations": [self.replying],
            }
        if fault == "LOST_REPLY_ANSWER":
            return {"malformedNext": 1, "operations": [self.replying]}
        if fault == "REWRITTEN_REPLY":
            return {"malformedNext": 1, "operations": [self.replying], "rewriteReplies": True}
        if fault == "REPLY_BEHIND":
            behind = {"repliesBehindSeconds": REPLY_BEHIND_SECONDS}
            return {"malformedNext": 1, "operations": [self.replying]} | behind
        if fault in PAGING_FAULTS:
            if self.unpaged:
                raise Unsupported(f"{self.unpaged}: no page to give wrong")
            return {PAGING_FAULTS[fault]: True, "pagingShops": ids}
        if fault in self.bodies:
            return self.bodies[fault] | {"operations": reading}
        if (why := CANNOT_CARRY[self.wire].get(fault)) is not None:
            raise Unsupported(f"{why}: {self.marketplace}'s API answers {self.wire}")
        raise Unsupported(f"the {self.marketplace} double cannot answer {fault} yet")

    async def set_fault(
        self, http: httpx.AsyncClient, fault: Fault, shops: list[DoubleShop] | None = None
    ) -> None:
        faults = self.fault_settings(fault, [s.account for s in shops or []])
        answered(await http.put(f"{self.faults_at or self.admin}/faults", json=faults))

    async def clear_faults(self, http: httpx.AsyncClient) -> None:
        answered(await http.delete(f"{self.faults_at or self.admin}/faults"), 204)

    async def hostile_pages(self, http: httpx.AsyncClient) -> tuple[int, int]:
        """The pages the double served under a paging fault since it was armed, and the
        listings they began (first pages)."""
        faults = answered(await http.get(f"{self.faults_at or self.admin}/faults"))
        return int(faults["hostilePages"]), int(faults["hostileListings"])

    async def expire_tokens(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        if self.tokenless:
            raise Unsupported(f"{self.tokenless}: none to expire")
        answered(await http.post(f"{self.admin}/shops/{shop.account}/expire-tokens"))

    async def token_requests(self, http: httpx.AsyncClient, shop: DoubleShop) -> int:
        if self.tokenless:
            raise Unsupported(f"{self.tokenless}: none is requested")
        counted = answered(await http.get(f"{self.admin}/shops/{shop.account}/token-requests"))
        return int(counted["tokenRequests"])

    async def revoke(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        answered(await http.post(f"{self.admin}/shops/{shop.account}/{self.revoking}"))

    def unoffered(self, recipient: RecipientKind) -> None:
        if recipient not in self.recipients:
            raise Unsupported(f"{self.marketplace}'s threads offer no reply to {recipient}")

    async def _open(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, **more: Any
    ) -> dict[str, Any]:
        """A thread the double's buyer opens saying ``text`` (``more``: the rest of its
        admin body): the admin's answer."""
        path = f"{self.admin}/shops/{shop.account}/{self.threads}"
        return answered(await http.post(path, json={self.said: text, **more}), 201)  # type: ignore[no-any-return]

    def carried(self, text: str) -> None:
        """Unsupported when the double's wire format cannot carry ``text`` to the seller."""
        if self.wire == "XML" and any(ord(c) < 0x20 and c not in "\t\n\r" for c in text):
            why = "XML 1.0 carries no control character"
            raise Unsupported(f"{why}: {self.marketplace}'s API cannot send one")

    async def buyer_writes(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> Written:
        self.carried(text)
        return written_of(await self._open(http, shop, text))

    def staff_message(self, text: str) -> dict[str, Any]:
        """The admin body of a message of the marketplace's staff in a thread."""
        raise Unsupported(f"the {self.marketplace} double's staff write in no thread")

    def buyer_message(self, text: str) -> dict[str, Any]:
        """The admin body of a message of the buyer in a thread."""
        raise Unsupported(f"the {self.marketplace} double's buyers write in no thread")

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        """A thread opened, then the buyer's message with the file in it."""
        opened = await self._open(http, shop, "Bonjour")
        thread = opened[self.thread_id]
        path = f"{self.admin}/shops/{shop.account}/{self.threads}/{thread}/messages"
        file = {"name": "facture.pdf", self.file_reference: reference}
        body = self.buyer_message(text) | {"attachments": [file]}
        written = answered(await http.post(path, json=body), 201)
        return Written(str(written["messageId"]), opened["orderId"])

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        self.unoffered(recipient)
        opened = await self._open(http, shop, text)
        if recipient == "MARKETPLACE_SUPPORT":
            thread = opened[self.thread_id]
            path = f"{self.admin}/shops/{shop.account}/{self.threads}/{thread}/messages"
            answered(await http.post(path, json=self.staff_message(text)), 201)
        return written_of(opened)


def written_of(opened: Mapping[str, Any]) -> Written:
    """The message a double's admin says its buyer wrote (``messageId``, ``orderId``), its
    ids as text."""
    order = opened["orderId"]
    return Written(str(opened["messageId"]), None if order is None else str(order))


# Hostile JSON every JSON double answers alike (faults.malform; HUGE sized by the driver's
# ``answer_cap``).
JSON_FAULTS: dict[Fault, str] = {
    "HUGE": "huge",
    "DEEP_NESTING": "deep",
    "HUGE_NUMBER": "bignum",
    "MISTYPED": "schema",
    "DUPLICATE_KEYS": "duplicate",
    "BAD_BYTES": "bad_bytes",
}


# Hostile XML every XML double answers alike (faults.xml_malform, xml_huge and WEB_PAGE;
# HUGE sized by the driver's ``answer_cap``).
XML_FAULTS: dict[Fault, str] = {
    "ENTITY_EXPANSION": "entities",
    "TRUNCATED": "truncated",
    "HUGE": "huge",
    "WRONG_CONTENT_TYPE": "html",
    "DEEP_NESTING": "deep",
    "MISTYPED": "mistyped",
    "BAD_BYTES": "bad_bytes",
}
# What a double of each wire format plays as a body: a JSON API's double adds a truncated
# answer and a web page where JSON was due.
WIRE_FAULTS: dict[WireFormat, dict[Fault, str]] = {
    "JSON": {"TRUNCATED": "invalid_json", "WRONG_CONTENT_TYPE": "html", **JSON_FAULTS},
    "XML": XML_FAULTS,
}


class _Drivers(Mapping[str, ShopDriver]):
    """Every double's drivers by marketplace, gathered from the doubles when first asked
    and again when they change (a double's driver module imports this one)."""

    def __init__(self) -> None:
        self._found: dict[str, ShopDriver] = {}
        self._of: list[Any] = []  # the doubles they were gathered from

    def _all(self) -> dict[str, ShopDriver]:
        serving = list(doubles().values())
        if serving != self._of:  # a double registered or gone since
            self._found = {
                marketplace: driver
                for double in serving
                for marketplace, driver in double.drivers().items()
            }
            self._of = serving
        return self._found

    def __getitem__(self, marketplace: str) -> ShopDriver:
        return self._all()[marketplace]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


DRIVERS: Mapping[str, ShopDriver] = _Drivers()


def driver_for(marketplace: str) -> ShopDriver | None:
    return DRIVERS.get(marketplace)
