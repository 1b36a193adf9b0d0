"""The MX in the service process: started and stopped by the frame, asking the projection.

A marketplace's relay → MX (``mx.py``, SMTP) → Dovecot over LMTP, one folder per tenant; the
recipients it accepts are those of the poller's own projection (``ports.ProjectionStore``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from keybuzz_poller.inbound.addresses import Recipient, split_bounce_tag
from keybuzz_poller.inbound.bounce_auth import is_signed
from keybuzz_poller.inbound.lmtp import Lmtp, Spooled
from keybuzz_poller.inbound.mx import Deliver, MxHandler, MxServer
from keybuzz_poller.inbound.mx_limits import MxLimits, SessionGate
from keybuzz_poller.inbound.ports import ProjectionStore
from keybuzz_poller.runtime import PollerRuntime

log = logging.getLogger(__name__)

# What follows each stored mail, given the tenant id (the poller's: mark it due now).
OnDelivered = Callable[[str], Awaitable[None]]


class ProjectionLookup:
    """Recipients from the poller's own projection of tenant.synced / tenant.archived.

    A reply's bounce address counts only with a signature of ours (``keys``: the bounce
    signing keys): anyone can write ``+b-<hex>-<16 characters>`` after a known address.
    """

    def __init__(self, projection: ProjectionStore, keys: Sequence[bytes]) -> None:
        self.projection = projection
        self.keys = keys

    async def lookup(self, address: str) -> Recipient | None:
        tag = split_bounce_tag(address)[1]
        if tag is not None and not is_signed(tag, self.keys):
            return None
        return await self.projection.find_recipient(address)


def pushing(deliver: Deliver, on_delivered: OnDelivered) -> Deliver:
    """``deliver``, then ``on_delivered`` (the tenant due now, every polling instance woken).

    The mail is stored once Dovecot answered: a failed mark is only logged (the SMTP
    answer stays 250, a 451 would have the mail sent again), and the sweep reads it.
    """

    async def deliver_and_push(recipient: Recipient, sender: str, mail: Spooled) -> None:
        await deliver(recipient, sender, mail)
        try:
            await on_delivered(recipient.tenant_id)
        except Exception as exc:
            log.warning(
                "tenant not marked due after a delivery: the sweep will read it",
                extra={"tenant_id": recipient.tenant_id, "error": type(exc).__name__},
            )

    return deliver_and_push


async def start_mx(
    runtime: PollerRuntime, projection: ProjectionStore, on_delivered: OnDelivered
) -> None:
    """Listens for mail; a poller that cannot listen does not start."""
    settings = runtime.settings
    limits = MxLimits(
        max_sessions=settings.mx_max_sessions,
        max_sessions_per_client=settings.mx_max_sessions_per_client,
        idle_timeout_seconds=settings.mx_idle_timeout_seconds,
        session_timeout_seconds=settings.mx_session_timeout_seconds,
        max_recipients=settings.mx_max_recipients,
        max_message_bytes=settings.mx_max_message_bytes,
        spool_memory_bytes=settings.mx_spool_memory_bytes,
        spool_dir=settings.mx_spool_dir,
    )
    lmtp = Lmtp(settings.lmtp_host, settings.lmtp_port, runtime.name)
    handler = MxHandler(
        ProjectionLookup(projection, settings.bounce_signing_keys),
        pushing(lmtp.deliver, on_delivered),
        SessionGate(runtime.name, limits),
    )
    server = MxServer(handler, settings.mx_host, settings.mx_port, settings.inbound_domain)
    await server.start()
    runtime.provide(server)
    runtime.provide(lmtp)


async def stop_mx(runtime: Any) -> None:
    server = runtime.components.pop(MxServer, None)
    if isinstance(server, MxServer):
        await server.stop()
    lmtp = runtime.components.pop(Lmtp, None)
    if isinstance(lmtp, Lmtp):
        lmtp.close()
