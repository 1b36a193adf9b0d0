"""Event handlers: tenant.* from the product app, message.received and
tenant.inbound_address.receiving from the poller,
connection.* from the oauth service (and the token services that report a refusal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    E,
    InboundAddressReceiving,
    MessageReceived,
    TenantArchived,
    TenantCreated,
    TenantUpdated,
)
from keybuzz_shared.messaging import Delivery, EventSubscription, PermanentEventError

from keybuzz_tenant_sync import connections, sync
from keybuzz_tenant_sync.bootstrap import TenantSyncRuntime, ports_of
from keybuzz_tenant_sync.domain import UnknownValue
from keybuzz_tenant_sync.ports import TenantSyncPorts


def register_subscribers(runtime: TenantSyncRuntime) -> None:
    _subscribe(runtime, TenantCreated, sync.apply_tenant_event, in_stream_time=True)
    _subscribe(runtime, TenantUpdated, sync.apply_tenant_event, in_stream_time=True)
    _subscribe(runtime, TenantArchived, sync.archive_tenant, in_stream_time=True)
    # Durable "tenant-sync-inbound-activation": says why we read the poller's events.
    _subscribe(runtime, MessageReceived, _activate_address, purpose="inbound-activation")
    # The poller's MX accepts an address: only then is it shown ready.
    _subscribe(runtime, InboundAddressReceiving, sync.mark_receiving, purpose="address-receiving")
    # The projection of marketplace connections the status endpoint shows (stream CONNECTIONS).
    _subscribe(runtime, ConnectionConnected, connections.apply_change)
    _subscribe(runtime, ConnectionDisconnected, connections.apply_change)
    _subscribe(
        runtime,
        ConnectionReauthRequired,
        connections.record_refusal,
        purpose="connection-reauth-required",
    )


def _subscribe(
    runtime: TenantSyncRuntime,
    event_type: type[E],
    use_case: Callable[[TenantSyncPorts, E], Awaitable[None]],
    purpose: str | None = None,
    in_stream_time: bool = False,
) -> None:
    async def handle(event: E, delivery: Delivery) -> None:
        if in_stream_time:
            event = never_after_stored(event, delivery)
        try:
            await use_case(ports_of(runtime), event)
        except UnknownValue as exc:  # an unknown plan/status will not become known on retry
            raise PermanentEventError(str(exc)) from exc

    EventSubscription(runtime, event_type=event_type, handler=handle, purpose=purpose)


def never_after_stored(event: E, delivery: Delivery) -> E:
    """The tenant changes' ordering key: ``occurredAt``, but never later than the moment
    JetStream stored the event.

    A producer's clock may run ahead by up to the 5-minute tolerance; its event would
    then outrank every change published after it (an archive right after such an update
    was ignored). Capped at its stored time, an event published later wins, so within
    the tolerance the stream's order decides; a genuinely older event redelivered late
    still loses.
    """
    if event.occurred_at <= delivery.published_at:
        return event
    return msgspec.structs.replace(event, occurred_at=delivery.published_at)


async def _activate_address(ports: TenantSyncPorts, event: MessageReceived) -> None:
    if event.inbound_address:
        at = event.received_at or event.occurred_at
        await sync.activate_address(ports, event.tenant_id, event.inbound_address, at)
