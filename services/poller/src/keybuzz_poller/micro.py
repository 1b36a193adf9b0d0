"""Operator actions over NATS: ``nats req keybuzz.poller.<action> '<json>'``."""

from __future__ import annotations

import msgspec
from keybuzz_shared.app_budgets import app_budget_body
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.http import status_for
from keybuzz_shared.ids import TenantId
from keybuzz_shared.micro import MicroEndpoint, OperatorError

from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.errors import ERROR_STATUSES
from keybuzz_poller.polling.quarantine import quarantined_folders
from keybuzz_poller.polling.scheduler import (
    PollPutOff,
    PollSkipped,
    Scheduler,
    TenantNotPollable,
)
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.schemas import poll_result_body, shop_poll_status_body
from keybuzz_poller.shops.connections import calls_per_day, shop_marketplaces, shop_statuses
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.tickets.backfill import TopicBackfillRequest, backfill_topics


class PollRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    tenant_id: TenantId


class ShopPollRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    tenant_id: TenantId
    marketplace: str


class ShopPolled(msgspec.Struct, kw_only=True, rename="camel"):
    tenant_id: str
    marketplace: str
    fetched: int
    stored: int
    duplicates: int


async def recorded_error(runtime: PollerRuntime, shop: Shop) -> str:
    statuses = await shop_statuses(ports_of(runtime).shop_polling, shop.tenant_id)
    found = next((s for s in statuses if s.marketplace == shop.marketplace), None)
    return f"the poll failed: {found.last_error if found else 'reason not recorded'}"


async def poll_shop_now(runtime: PollerRuntime, request: ShopPollRequest) -> ShopPolled:
    """One shop polled now, as its scheduled polls are (its lease, deadline and pace; a
    failure recorded and retried with back-off): what an operator asks after fixing what
    made it fail, rather than waiting for its next poll."""
    marketplace = request.marketplace.upper()
    if marketplace not in shop_marketplaces():
        raise OperatorError(f"{request.marketplace!r} is no marketplace whose shops are polled")
    shop = Shop(request.tenant_id, marketplace)
    try:
        result = await runtime.component(ShopScheduler).poll_now(shop.key)
    except TenantNotPollable as exc:
        message = f"tenant {shop.tenant_id} has no connected {marketplace} shop"
        raise OperatorError(message, "404") from exc
    except PollPutOff as exc:
        message = f"put off: {marketplace} allows its next call in {exc.seconds:.1f} s"
        raise OperatorError(message, "409") from exc
    except PollSkipped as exc:  # its marketplace not served now
        raise OperatorError(str(exc), "409") from exc
    except tuple(ERROR_STATUSES) as exc:
        raise OperatorError(str(exc), str(status_for(exc, ERROR_STATUSES))) from exc
    except Exception:
        # The poll failed: answered with the reason it recorded, masked of the shop's
        # credentials (the exception's own text may quote what the marketplace echoed).
        raise OperatorError(await recorded_error(runtime, shop), "503") from None
    return ShopPolled(
        tenant_id=shop.tenant_id,
        marketplace=marketplace,
        fetched=result.fetched,
        stored=result.stored,
        duplicates=result.duplicates,
    )


def micro_endpoints(runtime: PollerRuntime) -> list[MicroEndpoint]:
    async def poll(data: bytes) -> object:
        request = msgspec.json.decode(data, type=PollRequest)
        try:
            return poll_result_body(await runtime.component(Scheduler).poll_now(request.tenant_id))
        except tuple(ERROR_STATUSES) as exc:
            raise OperatorError(str(exc), str(status_for(exc, ERROR_STATUSES))) from exc
        except DependencyUnavailable as exc:
            raise OperatorError(str(exc), "503") from exc

    async def quarantine(_: bytes) -> object:
        return await quarantined_folders(ports_of(runtime).polling.quarantine)

    async def shops(data: bytes) -> object:
        request = msgspec.json.decode(data, type=PollRequest)
        ports = ports_of(runtime)
        statuses = await shop_statuses(ports.shop_polling, request.tenant_id)
        return [
            shop_poll_status_body(s, calls_per_day(ports.shops, s.marketplace)) for s in statuses
        ]

    async def poll_shop(data: bytes) -> object:
        return await poll_shop_now(runtime, msgspec.json.decode(data, type=ShopPollRequest))

    async def budgets(_: bytes) -> object:
        scheduler = runtime.component(ShopScheduler)
        found = [await scheduler.budgeted(m, fresh=True) for m in sorted(shop_marketplaces())]
        return [app_budget_body(b) for b in found if b is not None]

    async def backfill(data: bytes) -> object:
        request = msgspec.json.decode(data or b"{}", type=TopicBackfillRequest)
        return await backfill_topics(runtime.pool, request)

    return [
        MicroEndpoint("poll", poll, 'poll one tenant now: {"tenantId": "…"}'),
        MicroEndpoint(
            "poll-shop",
            poll_shop,
            'poll one tenant\'s shop of a marketplace now: {"tenantId": "…", "marketplace": "…"}',
        ),
        MicroEndpoint(
            "budgets",
            budgets,
            "each marketplace with an application call budget: its shops polled now and "
            "the interval between a shop's polls the budget gives: {}",
        ),
        MicroEndpoint(
            "backfill-topics",
            backfill,
            "tickets stored before topics existed get their language and topic from their "
            'buyers\' messages, paced; run again until remaining stops falling: {"batchSize": '
            '100, "pauseSeconds": 0.1, "limit": 10000} (each optional)',
        ),
        MicroEndpoint(
            "quarantine", quarantine, "folders holding mail of no known tenant (kept): {}"
        ),
        MicroEndpoint(
            "shops",
            shops,
            'a tenant\'s shops polled over an API, their polls and daily allowance: {"tenantId": "…"}',
        ),
    ]
