"""Amazon's routes, and the reply relay and notification delivery for the app's run."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.served import Served
from keybuzz_sandbox.faults import FaultConfig
from keybuzz_sandbox.sandbox import Sandbox

from . import messaging, notifications, orders, reports, sellers
from .admin import admin_handlers
from .consent import consent_routes
from .double import AmazonDouble
from .lwa import token_route
from .models import OPERATIONS
from .reply_relay import ReplyHandler
from .spapi import Implementation, operation_route

IMPLEMENTATIONS: dict[str, Implementation] = {
    **orders.IMPLEMENTATIONS,
    **reports.IMPLEMENTATIONS,
    **messaging.IMPLEMENTATIONS,
    **sellers.IMPLEMENTATIONS,
    **notifications.IMPLEMENTATIONS,
}


def amazon_routes(sandbox: Sandbox) -> Served:
    """Amazon's routes on ``sandbox``; the double's own parts kept as its ``amazon``."""
    sb = AmazonDouble(sandbox)
    sandbox.parts["amazon"] = sb
    # the SMTP relay for sellers' replies; notification delivery stops with the app
    relay = ReplyHandler(sb)
    sandbox.lifespans.append(lambda _app: relay.serving(sb))
    sandbox.lifespans.append(lambda _app: sb.notifications.outbox.running())
    # Paths, methods and media types come from the models, not from this code.
    operations = [operation_route(sb, OPERATIONS[k], i) for k, i in IMPLEMENTATIONS.items()]
    return Served(
        api=[token_route(sb), *consent_routes(sb), *operations],
        admin=admin_handlers(sb, relay),
        faults=(sb.faults, FaultConfig),
        limiter=sb.limiter,
        admin_at="/_sandbox",  # its admin's paths are the sandbox's own (SP-API's are unprefixed)
    )
