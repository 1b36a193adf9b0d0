"""Event subscribers of the oauth service.

``connection.reauth_required`` may come from any service whose marketplace refused a
connection's refresh token or a shop's key; oauth is the only writer of
marketplace_connections, so it is the one that marks the connection.
"""

from __future__ import annotations

from keybuzz_shared.events import ConnectionReauthRequired
from keybuzz_shared.messaging import Delivery, EventSubscription

from keybuzz_oauth import flow
from keybuzz_oauth.bootstrap import OauthRuntime, ports_of
from keybuzz_oauth.connections import oauth_connects


def register(runtime: OauthRuntime) -> None:
    async def on_reauth_required(event: ConnectionReauthRequired, delivery: Delivery) -> None:
        # What oauth connects, and so marks: others' connections are not its rows.
        if not oauth_connects(event.marketplace):
            return
        await flow.reauth_required(
            ports_of(runtime),
            event.tenant_id,
            event.seller_id,
            event.reason,
            event.occurred_at,
            event.marketplace,
        )

    EventSubscription(
        runtime,
        event_type=ConnectionReauthRequired,
        handler=on_reauth_required,
        purpose="mark-reauth-required",
    )
