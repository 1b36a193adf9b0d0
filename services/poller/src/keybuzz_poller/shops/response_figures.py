"""The marketplaces' own response figures for the response-time report
(``tickets.ports.ResponseFigureSource``), asked through the shop's one session.

A figure is kept per shop (tenant and marketplace) and window length for as long as its
connector says it holds (``ResponseFigures.cache_seconds``: the marketplace's own refresh or
allowed call frequency), a failure for at most ``FAILURE_SECONDS``: a report read again does
not call the marketplace, and a marketplace that is down is not asked at each reading. One
call at a time per shop and window. The cache is this instance's: each poller instance asks
on its own, once per life of a figure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
from keybuzz_shared.connectors.registry import connector_serving
from keybuzz_shared.connectors.seam import ResponseFigures

from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import (
    MarketplaceAnswerInvalid,
    MarketplaceUnavailable,
    ShopKeyRefused,
)
from keybuzz_poller.tickets.ports import Clock, system_clock
from keybuzz_poller.tickets.response_times import MarketplaceFigure

log = logging.getLogger(__name__)

FAILURE_SECONDS = 60.0  # how long a failed call's "not available" is kept, at most

Key = tuple[str, str, timedelta]  # marketplace, tenant, window length


class _Kept(msgspec.Struct, frozen=True):
    figure: MarketplaceFigure
    expires: float  # monotonic


class ShopResponseFigures:
    def __init__(
        self,
        source: ApiMessageSource,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.clock = clock
        self.monotonic = monotonic
        self._kept: dict[Key, _Kept] = {}
        self._asking: dict[Key, asyncio.Lock] = {}

    async def figure(
        self, tenant_id: str, marketplace: str, since: datetime, until: datetime
    ) -> MarketplaceFigure | None:
        part = _figures_of(marketplace)
        if part is None:
            return None
        key = (marketplace, tenant_id, until - since)
        async with self._asking.setdefault(key, asyncio.Lock()):
            kept = self._kept.get(key)
            if kept is not None and kept.expires > self.monotonic():
                return kept.figure
            figure, life = await self._asked(Shop(tenant_id, marketplace), part, since, until)
            self._kept[key] = _Kept(figure, self.monotonic() + life)
            return figure

    async def _asked(
        self, shop: Shop, part: ResponseFigures, since: datetime, until: datetime
    ) -> tuple[MarketplaceFigure, float]:
        """The figure, or why it is not available, and how long to keep it."""
        asked_at = self.clock()
        failed = min(FAILURE_SECONDS, part.cache_seconds)
        try:
            found = await self.source.response_delay(shop, part, since, until)
        except (ShopKeyRefused, MarketplaceUnavailable, MarketplaceAnswerInvalid) as exc:
            return _not_available(asked_at, str(exc)), failed
        except Exception:  # a connector's fault: the report stands without the figure
            log.exception(
                "response figure failed",
                extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
            )
            return _not_available(asked_at, f"{shop.marketplace} figure unreadable"), failed
        if found is None:
            reason = f"{shop.marketplace} measures no window close to this one"
            return _not_available(asked_at, reason), part.cache_seconds
        figure = MarketplaceFigure(
            available=True,
            name=found.name,
            average_response_seconds=found.average_response_seconds,
            since=found.since,
            until=found.until,
            computed_at=found.computed_at,
            fetched_at=asked_at,
        )
        return figure, part.cache_seconds


def _figures_of(marketplace: str) -> ResponseFigures | None:
    connector = connector_serving(marketplace)
    return connector.response_figures if connector is not None else None


def _not_available(asked_at: datetime, reason: str) -> MarketplaceFigure:
    return MarketplaceFigure(available=False, fetched_at=asked_at, reason=reason)
