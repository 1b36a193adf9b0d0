"""What the shop-API doubles' conformance drivers repeat: the suite's pace of a connector's
settings, the shops its admin lists, the sent log of a shop read from its admin, a relay
double's replies as its buyer got them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from keybuzz_sandbox.conformance import AdminDriver, DoubleShop, answered, sent_to

# The suite's pace (every driver's): shops polled every 2 s, calls cut after 2 s, a first
# poll reaching back one day, so that a case runs in seconds, not a marketplace's minutes.
SUITE_PACE = {"TIMEOUT_SECONDS": "2", "CALL_DEADLINE_SECONDS": "2", "FIRST_POLL_DAYS": "1"}
SUITE_POLL_INTERVAL = {"POLL_INTERVAL_SECONDS": "2"}


def suite_pace(prefix: str, *, polled_every_two_seconds: bool = True) -> dict[str, str]:
    """The connector's settings (``<prefix>_<NAME>``) at the suite's pace; without its poll
    interval where the driver paces its polls otherwise (by its operators' catalogue)."""
    pace = {**SUITE_POLL_INTERVAL, **SUITE_PACE} if polled_every_two_seconds else SUITE_PACE
    return {f"{prefix}_{name}": value for name, value in pace.items()}


async def sent_log(http: httpx.AsyncClient, admin: str, shop: DoubleShop) -> list[Any]:
    """What the double's shop sent (``GET <admin>/shops/<account>/sent``), as it logged it."""
    return list(answered(await http.get(f"{admin}/shops/{shop.account}/sent"))["sent"])


def shops_of(
    listed: Iterable[Mapping[str, Any]],
    *,
    account: str,
    credentials: Mapping[str, str],
    kept: Callable[[Mapping[str, Any]], bool] = lambda shop: True,
) -> list[DoubleShop]:
    """The shops a double's admin listed (each by its ``name``), those ``kept``: ``account``
    names the listed field the shop's account is, ``credentials`` maps each of the
    connector's fields to the listed field it is read from (as text)."""
    return [
        DoubleShop(
            name=shop["name"],
            account=str(shop[account]),
            credentials={field: str(shop[listed_as]) for field, listed_as in credentials.items()},
        )
        for shop in listed
        if kept(shop)
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
    ``recipient_kinds`` each recipient its sent log names as the seam's ``RecipientKind``."""

    account: ClassVar[str]
    listed_as: ClassVar[Mapping[str, str]]
    recipient_kinds: ClassVar[Mapping[str, str]] = {}

    async def listed(self, http: httpx.AsyncClient) -> list[Mapping[str, Any]]:
        """The shops the double's admin lists, each with its credentials."""
        return list(answered(await http.get(self.shops_listed_at)))

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return True

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = await self.listed(http)
        return shops_of(listed, account=self.account, credentials=self.listed_as, kept=self.kept)

    async def sent_log(self, http: httpx.AsyncClient, shop: DoubleShop) -> list[Any]:
        """What the shop sent, as the double's admin logged it."""
        return await sent_log(http, self.admin, shop)

    async def sent_to(
        self,
        http: httpx.AsyncClient,
        shop: DoubleShop,
        text: str,
        kinds: Callable[[dict[str, Any]], list[str]],
    ) -> list[str]:
        """To whom each message the shop sent saying ``text`` went (``conformance.sent_to``:
        ``kinds`` reads a logged message's recipients as the double names them)."""
        return sent_to(await self.sent_log(http, shop), text, kinds, self.recipient_kinds)
