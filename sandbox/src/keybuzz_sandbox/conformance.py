"""How the conformance suite (tests/conformance/) drives each double, by marketplace value.

The suite runs one set of tests against every registered shop-API connector. It knows no
marketplace: for each it asks ``driver_for(marketplace)`` how to list the double's shops
and their credentials, have a buyer write, read what the seller sent, arm a fault and clear
it, expire a shop's tokens, count its token requests and revoke its credentials. A connector joins the suite by
adding its driver to ``DRIVERS``; a registered shop-API connector with none fails it.

Drivers speak to a running sandbox over HTTP (its admin endpoints under ``/_sandbox``),
as a test does; nothing here runs inside the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from keybuzz_sandbox import backmarket, cdiscount, mirakl

# What the suite asks a double to do wrong. STALL: no answer for long past the poll's
# deadline; TRICKLE: the answer a byte at a time; UNAVAILABLE: 5xx; then the hostile
# bodies; LOST_REPLY_ANSWER: a reply applied, its answer garbled; HELD_REPLY: a reply
# applied at once, its answer given HELD_REPLY_SECONDS later (the caller has given up);
# REWRITTEN_REPLY: as LOST_REPLY_ANSWER, the reply shown on its thread rewritten as some
# marketplaces do (``faults.rewritten``: HTML entities, <br /> and CRLF, NFD, trimmed);
# REPLY_BEHIND: as LOST_REPLY_ANSWER, the reply dated REPLY_BEHIND_SECONDS before our time
# (a marketplace whose clock is behind ours).
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
]
# Whom a reply goes to (the seam's recipients): the buyer, the marketplace's customer care,
# an operator of the marketplace.
RecipientKind = Literal["BUYER", "MARKETPLACE_SUPPORT", "OPERATOR"]
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
    """A message the double's buyer (or customer care) wrote: its id and its order."""

    message_id: str
    order_id: str


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

    @property
    def customer_care(self) -> str:
        """What the marketplace calls its customer care."""
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

    async def set_fault(
        self, http: httpx.AsyncClient, fault: Fault, shops: list[DoubleShop] | None = None
    ) -> None:
        """Arms ``fault`` on reading messages (on replying for LOST_REPLY_ANSWER), for
        ``shops`` only where the fault is per shop (STALL, TRICKLE); Unsupported if the
        double cannot make it."""
        ...

    async def clear_faults(self, http: httpx.AsyncClient) -> None: ...

    async def expire_tokens(self, http: httpx.AsyncClient, shop: DoubleShop) -> None: ...

    async def token_requests(self, http: httpx.AsyncClient, shop: DoubleShop) -> int:
        """How many token requests for the shop the double has answered."""
        ...

    async def revoke(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        """The seller revokes the credentials (a new key or secret): the old ones fail."""
        ...


def _ok(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in (statuses or (200,)):
        raise AssertionError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def double_faults(
    malformed: Mapping[Fault, str], *, huge_bytes: int | None = None
) -> dict[str, dict[str, Any]]:
    """A double's faults that are a status or a body of its own: 5xx, and each hostile
    body it can make by its ``malformedKind`` (``huge_bytes``: the size of its HUGE one)."""
    faults: dict[str, dict[str, Any]] = {"UNAVAILABLE": {"failNext": 1_000, "failStatus": 503}}
    for fault, kind in malformed.items():
        faults[fault] = {"malformedNext": 1_000, "malformedKind": kind}
    if huge_bytes is not None and "HUGE" in faults:
        faults["HUGE"]["hugeBytes"] = huge_bytes
    return faults


@dataclass(frozen=True)
class _AdminDriver:
    """What the shop-API doubles' admin endpoints have in common: their fault settings
    (``faults.SlowFaultConfig``), tokens expired and credentials rotated by shop, and
    threads a buyer opens with a text (``threads``: their admin path under a shop)."""

    marketplace: str
    api_family: str
    customer_care: str
    admin: str  # the double's admin endpoints
    reading: tuple[str, ...]  # the operations that read a shop's messages
    replying: str  # the operation that sends a reply
    bodies: Mapping[str, dict[str, Any]]  # faults that are a body or a status of the double's
    revoking: str  # the admin action that rotates a shop's secret
    recipients: tuple[RecipientKind, ...] = ("BUYER", "MARKETPLACE_SUPPORT")
    faults_at: str = ""  # where its faults are armed when not at ``admin``
    tokenless: str = ""  # why its shops have no token (none expires, none is requested)
    threads: str = "threads"  # a shop's threads under its admin path
    thread_id: str = "threadId"  # the id of a thread opened, in the double's answer

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
        if fault in self.bodies:
            return self.bodies[fault] | {"operations": reading}
        raise Unsupported(f"the {self.marketplace} double cannot answer {fault} yet")

    async def set_fault(
        self, http: httpx.AsyncClient, fault: Fault, shops: list[DoubleShop] | None = None
    ) -> None:
        faults = self.fault_settings(fault, [s.account for s in shops or []])
        _ok(await http.put(f"{self.faults_at or self.admin}/faults", json=faults))

    async def clear_faults(self, http: httpx.AsyncClient) -> None:
        _ok(await http.delete(f"{self.faults_at or self.admin}/faults"), 204)

    async def expire_tokens(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        if self.tokenless:
            raise Unsupported(f"{self.tokenless}: none to expire")
        _ok(await http.post(f"{self.admin}/shops/{shop.account}/expire-tokens"))

    async def token_requests(self, http: httpx.AsyncClient, shop: DoubleShop) -> int:
        if self.tokenless:
            raise Unsupported(f"{self.tokenless}: none is requested")
        counted = _ok(await http.get(f"{self.admin}/shops/{shop.account}/token-requests"))
        return int(counted["tokenRequests"])

    async def revoke(self, http: httpx.AsyncClient, shop: DoubleShop) -> None:
        _ok(await http.post(f"{self.admin}/shops/{shop.account}/{self.revoking}"))

    def unoffered(self, recipient: RecipientKind) -> None:
        if recipient not in self.recipients:
            raise Unsupported(f"{self.marketplace}'s threads offer no reply to {recipient}")

    async def _open(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> dict[str, Any]:
        path = f"{self.admin}/shops/{shop.account}/{self.threads}"
        return _ok(await http.post(path, json={"body": text}), 201)  # type: ignore[no-any-return]

    async def buyer_writes(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> Written:
        opened = await self._open(http, shop, text)
        return Written(opened["messageId"], opened["orderId"])

    def staff_message(self, text: str) -> dict[str, Any]:
        """The admin body of a message of the marketplace's staff in a thread."""
        raise Unsupported(f"the {self.marketplace} double's staff write in no thread")

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        self.unoffered(recipient)
        opened = await self._open(http, shop, text)
        if recipient == "MARKETPLACE_SUPPORT":
            thread = opened[self.thread_id]
            path = f"{self.admin}/shops/{shop.account}/{self.threads}/{thread}/messages"
            _ok(await http.post(path, json=self.staff_message(text)), 201)
        return Written(opened["messageId"], opened["orderId"])


def _sent_to(
    sent: list[dict[str, Any]],
    text: str,
    kinds: Callable[[dict[str, Any]], list[str]],
    named: Mapping[str, str],
) -> list[str]:
    """To whom (``RecipientKind``s joined by "+") each message the seller sent saying
    ``text`` went, by the double's ``kinds`` of it (``named``: each as the seam's)."""
    return [
        "+".join(sorted(named.get(kind, "?") for kind in kinds(s)))
        for s in sent
        if s["body"] == text
    ]


# Fnac's double: faults of the Fnac API's services (docs/SANDBOX.md, "The Fnac double").
_FNAC_FAULTS = double_faults(
    {
        "ENTITY_EXPANSION": "entities",
        "TRUNCATED": "truncated",
        "HUGE": "huge",
        "WRONG_CONTENT_TYPE": "html",
    }
)
# Fnac's message_to for each recipient (the double's sent log).
_FNAC_RECIPIENTS = {"CLIENT": "BUYER", "CALLCENTER": "MARKETPLACE_SUPPORT"}
SPARE_FNAC_SHOPS = 4  # SANDBOX_FNAC_EXTRA_SHOPS: two more of each marketplace


@dataclass(frozen=True)
class FnacDriver(_AdminDriver):
    """Fnac's double (sandbox/src/keybuzz_sandbox/fnac/): one API for Fnac and Darty. Its
    threads are the order's: the buyer's, or its customer care's while an incident is open
    (the seller writes to no operator)."""

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {
            "FNAC_API_URL": f"{sandbox_url}/fnac/api.php/",
            "FNAC_POLL_INTERVAL_SECONDS": "2",
            "FNAC_TIMEOUT_SECONDS": "2",
            "FNAC_CALL_DEADLINE_SECONDS": "2",
            "FNAC_FIRST_POLL_DAYS": "1",
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {
            "SANDBOX_FNAC_EXTRA_SHOPS": str(SPARE_FNAC_SHOPS),
            "SANDBOX_FNAC_BENCH_ORDERS": "50",
        }

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = _ok(await http.get(self.shops_listed_at))
        return [
            DoubleShop(
                name=s["name"],
                account=s["shop_id"],
                credentials={f: s[f] for f in ("partner_id", "shop_id", "key")},
            )
            for s in listed
            if s["marketplace"] == self.marketplace and s["orders"] > 0
        ]

    async def buyer_writes(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> Written:
        if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text):
            raise Unsupported("XML 1.0 carries no control character: Fnac's API cannot send one")
        written = await http.post(
            f"{self.admin}/shops/{shop.account}/messages", json={"description": text}
        )
        body = _ok(written, 201)
        return Written(body["messageId"], body["orderId"])

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        self.unoffered(recipient)
        written = await self.buyer_writes(http, shop, text)
        if recipient == "MARKETPLACE_SUPPORT":
            opened = await http.post(
                f"{self.admin}/shops/{shop.account}/incidents", json={"orderId": written.order_id}
            )
            _ok(opened, 201)
        return written

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = _ok(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return [
            _FNAC_RECIPIENTS.get(s["messageTo"], s["messageTo"])
            for s in sent
            if s["description"] == text
        ]


def _fnac(marketplace: str, display: str) -> FnacDriver:
    return FnacDriver(
        marketplace=marketplace,
        api_family="fnac",
        customer_care=f"le service client {display}",
        admin="/_sandbox/fnac",
        reading=("messages_query", "incidents_query"),
        replying="messages_update",
        bodies=_FNAC_FAULTS,
        revoking="rotate-key",
    )


# Cdiscount's double: operations of Octopia's API (docs/SANDBOX.md, "Cdiscount double").
# Hostile JSON every JSON double answers alike (faults.malform).
_JSON_FAULTS: dict[Fault, str] = {
    "DEEP_NESTING": "deep",
    "HUGE_NUMBER": "bignum",
    "MISTYPED": "schema",
    "DUPLICATE_KEYS": "duplicate",
}
_OCTOPIA_FAULTS = double_faults({"TRUNCATED": "invalid_json", **_JSON_FAULTS})
_OCTOPIA_RECIPIENTS = {"Customer": "BUYER", "GrcOperator": "MARKETPLACE_SUPPORT"}


@dataclass(frozen=True)
class CdiscountDriver(_AdminDriver):
    """Octopia's double (sandbox/src/keybuzz_sandbox/cdiscount/), its credentials named as
    the Cdiscount connector's fields (client id, client secret, seller id). Octopia's
    customer care (GrcOperator) writes in some discussions; a reply can go to it."""

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {
            **cdiscount.service_env(sandbox_url),
            "CDISCOUNT_POLL_INTERVAL_SECONDS": "2",
            "CDISCOUNT_TIMEOUT_SECONDS": "2",
            "CDISCOUNT_CALL_DEADLINE_SECONDS": "2",
            "CDISCOUNT_FIRST_POLL_DAYS": "1",
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {"SANDBOX_CDISCOUNT_EXTRA_SHOPS": "2", "SANDBOX_CDISCOUNT_BENCH_ORDERS": "50"}

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = _ok(await http.get(self.shops_listed_at))
        return [
            DoubleShop(
                name=s["name"],
                account=s["sellerId"],
                credentials={
                    "client_id": s["clientId"],
                    "client_secret": s["clientSecret"],
                    "seller_id": s["sellerId"],
                },
            )
            for s in listed
            if s["orders"] > 0
        ]

    def staff_message(self, text: str) -> dict[str, Any]:
        return {"userType": "GrcOperator", "body": text}

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = _ok(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return _sent_to(
            sent, text, lambda s: [r["userType"] for r in s["receivers"]], _OCTOPIA_RECIPIENTS
        )


# Mirakl's double: one operator's instance (docs/SANDBOX.md, "The Mirakl double"); every
# operator runs the same connector, so one of them stands for all in the suite.
_MIRAKL_FAULTS = double_faults(
    {"TRUNCATED": "invalid_json", "HUGE": "huge", "WRONG_CONTENT_TYPE": "html", **_JSON_FAULTS},
    huge_bytes=40 * 2**20,
)
_MIRAKL_RECIPIENTS = {"CUSTOMER": "BUYER", "OPERATOR": "MARKETPLACE_SUPPORT"}
# The suite polls every 2 s: the double allows M11 every 1.5 s (60 of its seconds at the
# suite's clock scale of 20, times SANDBOX_MIRAKL_FREQUENCY_FACTOR), so that a poll never
# meets the 429 a poll a few milliseconds early would.
MIRAKL_SUITE_M11_SECONDS = 2
MIRAKL_SUITE_FREQUENCY_FACTOR = 0.5


@dataclass(frozen=True)
class MiraklDriver(_AdminDriver):
    """One operator of Mirakl's double (sandbox/src/keybuzz_sandbox/mirakl/): its shops'
    keys and ids named as the Mirakl connector's fields (api key, shop id). Threads are
    opened on an order by the customer; the operator's staff write in some; a reply goes
    to the customer or the operator. A Mirakl key has no token: nothing expires."""

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        catalogue = json.loads(mirakl.service_env(sandbox_url)["MIRAKL_CATALOGUE"])
        for entry in catalogue:
            entry["frequencies"] = {"M11": MIRAKL_SUITE_M11_SECONDS}
        return {
            "MIRAKL_CATALOGUE": json.dumps(catalogue),
            "MIRAKL_TIMEOUT_SECONDS": "2",
            "MIRAKL_CALL_DEADLINE_SECONDS": "2",
            "MIRAKL_FIRST_POLL_DAYS": "1",
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {
            "SANDBOX_MIRAKL_EXTRA_SHOPS": "2",
            "SANDBOX_MIRAKL_FREQUENCY_FACTOR": str(MIRAKL_SUITE_FREQUENCY_FACTOR),
        }

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        settings = super().fault_settings(fault, ids)
        code = self.marketplace
        settings["operations"] = [f"{code}.{o}" for o in settings.get("operations", [])]
        return settings

    @property
    def shops_listed_at(self) -> str:
        return f"{self.faults_at}/operators"

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = _ok(await http.get(self.shops_listed_at))
        [operator] = [o for o in listed if o["code"] == self.marketplace]
        return [
            DoubleShop(
                name=s["name"],
                account=str(s["shopId"]),
                credentials={"api_key": s["apiKey"], "shop_id": str(s["shopId"])},
            )
            for s in operator["shops"]
        ]

    def staff_message(self, text: str) -> dict[str, Any]:
        return {"sender": "OPERATOR", "body": text, "to": ["CUSTOMER", "SHOP"]}

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = _ok(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return _sent_to(sent, text, lambda s: list(s["to"]), _MIRAKL_RECIPIENTS)


# Back Market's double: operations of its seller API (docs/SANDBOX.md, "Back Market double").
_BACKMARKET_FAULTS = double_faults(
    {"TRUNCATED": "invalid_json", "WRONG_CONTENT_TYPE": "html", **_JSON_FAULTS}
)


@dataclass(frozen=True)
class BackMarketDriver(_AdminDriver):
    """Back Market's double (sandbox/src/keybuzz_sandbox/backmarket/): a shop is its number
    there; its credentials the connector's fields (token, seller id, country). A static
    token: nothing expires or is renewed. A message of the shop goes to the buyer and
    Back Market alike (MERCHANT_TO_ALL), which the suite counts as the buyer's."""

    recipients: tuple[RecipientKind, ...] = ("BUYER",)

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {
            **backmarket.service_env(sandbox_url),
            "BACKMARKET_POLL_INTERVAL_SECONDS": "2",
            "BACKMARKET_TIMEOUT_SECONDS": "2",
            "BACKMARKET_CALL_DEADLINE_SECONDS": "2",
            "BACKMARKET_FIRST_POLL_DAYS": "1",
            # Polled every two seconds as the suite's other shops: the day's plan of 4,000
            # calls would space them ~20 s apart.
            "BACKMARKET_CALLS_PER_DAY": "1000000",
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {"SANDBOX_BACKMARKET_EXTRA_SHOPS": "2"}

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = _ok(await http.get(self.shops_listed_at))
        return [
            DoubleShop(
                name=s["name"],
                account=str(s["number"]),
                credentials={
                    "token": s["token"],
                    "merchant_id": str(s["merchantId"]),
                    "country": s["country"],
                },
            )
            for s in listed
        ]

    async def buyer_writes(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> Written:
        path = f"{self.admin}/shops/{shop.account}/folders"
        opened = _ok(await http.post(path, json={"message": text}), 201)
        return Written(str(opened["messageId"]), str(opened["orderId"]))

    async def thread_for(
        self, http: httpx.AsyncClient, shop: DoubleShop, recipient: RecipientKind, text: str
    ) -> Written:
        self.unoffered(recipient)
        return await self.buyer_writes(http, shop, text)

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = _ok(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"]
        return ["BUYER" for s in sent if s["message"] == text]


DRIVERS: dict[str, ShopDriver] = {
    "FNAC": _fnac("FNAC", "Fnac"),
    "DARTY": _fnac("DARTY", "Darty"),
    "CDISCOUNT": CdiscountDriver(
        marketplace="CDISCOUNT",
        api_family="octopia",
        customer_care="le service client Cdiscount (GrcOperator)",
        admin="/_sandbox/cdiscount",
        reading=("getDiscussions", "getDiscussion", "countDiscussions"),
        replying="postMessage",
        bodies=_OCTOPIA_FAULTS,
        revoking="rotate-secret",
        threads="discussions",
        thread_id="discussionId",
    ),
    "BOULANGER": MiraklDriver(
        marketplace="BOULANGER",
        api_family="mirakl:BOULANGER",
        customer_care="le service client de Boulanger (l'opérateur Mirakl)",
        admin="/_sandbox/mirakl/operators/BOULANGER",
        reading=("M11", "M10"),
        replying="M12",
        bodies=_MIRAKL_FAULTS,
        revoking="rotate-key",
        faults_at="/_sandbox/mirakl",
        tokenless="a Mirakl API key has no token",
    ),
    "BACKMARKET": BackMarketDriver(
        marketplace="BACKMARKET",
        api_family="backmarket",
        customer_care="le service client Back Market",
        admin="/_sandbox/backmarket",
        reading=("getCareFolderList", "getCareFolderDetails"),
        replying="postMessage",
        bodies=_BACKMARKET_FAULTS,
        revoking="rotate-token",
        tokenless="Back Market's token is the seller's own, made in its back office",
    ),
}


def driver_for(marketplace: str) -> ShopDriver | None:
    return DRIVERS.get(marketplace)
