"""Operator actions over NATS: ``nats req keybuzz.poller.<action> '<json>'``."""

from __future__ import annotations

import msgspec
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.http import status_for
from keybuzz_shared.ids import TenantId
from keybuzz_shared.micro import MicroEndpoint, OperatorError

from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.errors import ERROR_STATUSES
from keybuzz_poller.polling.quarantine import quarantined_folders
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.schemas import poll_result_body, shop_poll_status_body
from keybuzz_poller.shops.connections import calls_per_day, shop_statuses


class PollRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    tenant_id: TenantId


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

    return [
        MicroEndpoint("poll", poll, 'poll one tenant now: {"tenantId": "…"}'),
        MicroEndpoint(
            "quarantine", quarantine, "folders holding mail of no known tenant (kept): {}"
        ),
        MicroEndpoint(
            "shops",
            shops,
            'a tenant\'s shops polled over an API, their polls and daily allowance: {"tenantId": "…"}',
        ),
    ]
