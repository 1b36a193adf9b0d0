"""Amazon's routes, and the reply relay and notification delivery for the app's run."""

from __future__ import annotations

from typing import Any

from keybuzz_sandbox.sandbox import Sandbox

from . import messaging, notifications, orders, reports, sellers
from .admin import admin_router
from .consent import consent_routes
from .double import AmazonDouble
from .lwa import token_route
from .reply_relay import ReplyHandler
from .spapi import Implementation, operation_route

IMPLEMENTATIONS: dict[str, Implementation] = {
    **orders.IMPLEMENTATIONS,
    **reports.IMPLEMENTATIONS,
    **messaging.IMPLEMENTATIONS,
    **sellers.IMPLEMENTATIONS,
    **notifications.IMPLEMENTATIONS,
}


def amazon_routes(sandbox: Sandbox) -> list[Any]:
    """Amazon's routes on ``sandbox``; the double's own parts kept as its ``amazon``."""
    sb = AmazonDouble(sandbox)
    sandbox.parts["amazon"] = sb
    # the SMTP relay for sellers' replies; notification delivery stops with the app
    relay = ReplyHandler(sb)
    sandbox.lifespans.append(lambda _app: relay.serving(sb))
    sandbox.lifespans.append(lambda _app: sb.notifications.outbox.running())
    return [
        token_route(sb),
        *consent_routes(sb),
        admin_router(sb, relay),
        # Paths, methods and media types come from the models, not from this code.
        *(
            operation_route(sb, sb.models.operations[key], impl)
            for key, impl in IMPLEMENTATIONS.items()
        ),
    ]
