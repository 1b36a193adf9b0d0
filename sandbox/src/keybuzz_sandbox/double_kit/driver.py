"""What the shop-API doubles' conformance drivers repeat: the suite's pace of a connector's
settings, the shops its admin lists, the sent log of a shop read from its admin, a relay
double's replies as its buyer got them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from keybuzz_sandbox.conformance import AdminDriver, DoubleShop, Written, answered, written_of
from keybuzz_sandbox.double_entry import Double

# The suite's pace (every driver's): shops polled every 2 s, calls cut after 2 s, a first
# poll reaching back one day, so that a case runs in seconds, not a marketplace's minutes.
SUITE_PACE = {"TIMEOUT_SECONDS": "2", "CALL_DEADLINE_SECONDS": "2", "FIRST_POLL_DAYS": "1"}
SUITE_POLL_INTERVAL = {"POLL_INTERVAL_SECONDS": "2"}


def suite_pace(prefix: str, *, polled_every_two_seconds: bool = True) -> dict[str, str]:
    """The connector's settings (``<prefix>_<NAME>``) at the suite's pace; without its poll
    interval where the driver paces its polls otherwise (by its operators' catalogue)."""
    pace = {**SUITE_POLL_INTERVAL, **SUITE_PACE} if polled_every_two_seconds else SUITE_PACE
    return {f"{prefix}_{name}": value for name, value in pace.items()}


def shops_of(
    listed: Iterable[Mapping[str, Any]], *, account: str, credentials: Mapping[str, str]
) -> list[DoubleShop]:
    """The shops a double's admin listed (each by its ``name``): ``account`` names the
    listed field the shop's account is, ``credentials`` maps each of the connector's fields
    to the listed field it is read from (as text)."""
    return [
        DoubleShop(
            name=shop["name"],
            account=str(shop[account]),
            credentials={field: str(shop[listed_as]) for field, listed_as in credentials.items()},
        )
        for shop in listed
    ]


async def listed_texts(http: httpx.AsyncClient, path: str, key: str) -> list[str]:
    """The ``text`` of each item listed under ``key`` at a double's admin ``path``, stripped:
    a relay double's replies as its buyer got them."""
    return [str(item["text"]).strip() for item in succeeded(await http.get(path))[key]]


def succeeded(response: httpx.Response) -> Any:
    """The JSON of a double's admin answer of any 2xx status (else an AssertionError that
    shows the answer)."""
    assert response.is_success, response.text
    return response.json()


@dataclass(frozen=True, kw_only=True)
class ListedShopsDriver(AdminDriver):
    """A driver whose shops are those its double's admin lists (``shops_of``, the ones it
    ``kept``), as its class declares: ``account`` the listed field a shop's account is,
    ``listed_as`` each of the connector's credential fields as the listed field it is,
    ``recipient_kinds`` each recipient its sent log names as the seam's ``RecipientKind``;
    its connector's settings its ``double``'s at the suite's pace (the double it was made
    for: ``Double.drivers``), the double's own ``suite_settings``."""

    double: Double
    account: ClassVar[str]
    listed_as: ClassVar[Mapping[str, str]]
    recipient_kinds: ClassVar[Mapping[str, str]] = {}
    # The double's own settings in the suite, each without the double's prefix.
    suite_settings: ClassVar[Mapping[str, str]] = {}
    # The fields of a message in the sent log: its text, and its recipient (or list of
    # them; empty: the buyer alone).
    logged_said: ClassVar[str] = "body"
    logged_to: ClassVar[str] = ""
    # A buyer's, a staff's message's admin body beside its "body"; None: none writes.
    buyer_says: ClassVar[Mapping[str, Any] | None] = None
    staff_says: ClassVar[Mapping[str, Any] | None] = None
    # A file's admin body beside its name and reference where the buyer's message opening
    # a thread carries it; None: a message after the opening one does.
    opening_file: ClassVar[Mapping[str, Any] | None] = None

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {**self.double.service_env(sandbox_url), **suite_pace(self.double.name.upper())}

    def sandbox_settings(self) -> dict[str, str]:
        prefix = self.double.variables_prefix
        return {f"{prefix}{name}": value for name, value in self.suite_settings.items()}

    async def listed(self, http: httpx.AsyncClient) -> list[Mapping[str, Any]]:
        """The shops the double's admin lists, each with its credentials."""
        return list(answered(await http.get(self.shops_listed_at)))

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return True

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = [shop for shop in await self.listed(http) if self.kept(shop)]
        return shops_of(listed, account=self.account, credentials=self.listed_as)

    async def sent_log(self, http: httpx.AsyncClient, shop: DoubleShop) -> list[Any]:
        """What the shop sent (``GET <admin>/shops/<account>/sent``), as the double's admin
        logged it."""
        return list(answered(await http.get(f"{self.admin}/shops/{shop.account}/sent"))["sent"])

    def logged_kinds(self, logged: Mapping[str, Any]) -> list[str]:
        """The recipients of a message of the sent log, as the double names them."""
        if not self.logged_to:
            return ["BUYER"]
        named = logged[self.logged_to]
        return list(named) if isinstance(named, list) else [named]

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        """To whom (``RecipientKind``s joined by "+") each message the shop sent saying
        ``text`` went."""
        kinds = self.recipient_kinds
        return [
            "+".join(sorted(kinds.get(kind, kind) for kind in self.logged_kinds(logged)))
            for logged in await self.sent_log(http, shop)
            if logged[self.logged_said] == text
        ]

    def buyer_message(self, text: str) -> dict[str, Any]:
        if self.buyer_says is None:
            return super().buyer_message(text)
        return {"body": text, **self.buyer_says}

    def staff_message(self, text: str) -> dict[str, Any]:
        if self.staff_says is None:
            return super().staff_message(text)
        return {"body": text, **self.staff_says}

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        if self.opening_file is None:
            return await super().buyer_names_a_file(http, shop, text, reference)
        file = {"name": "facture.pdf", self.file_reference: reference, **self.opening_file}
        return written_of(await self._open(http, shop, text, attachments=[file]))
