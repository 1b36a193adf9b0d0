"""A double's fault settings over HTTP: GET, PUT and DELETE ``/faults`` under its admin
router, for any ``FaultConfig`` of its own (checked by its ``problems()``); and the reset of
its rate-limit buckets, ``POST /ratelimits/reset``."""

from __future__ import annotations

from typing import Any

from litestar import Response, delete, get, post

from .answers import json_answer
from .double_kit.admin import settings_handlers
from .faults import FaultConfig, FaultInjector
from .ratelimit import RateLimiter


def fault_handlers(injector: FaultInjector, settings: type[FaultConfig]) -> list[Any]:
    """The three handlers; PUT decodes its body as ``settings`` (unknown fields refused)."""

    def write(config: FaultConfig) -> None:
        injector.config = config

    return settings_handlers("/faults", settings, lambda: injector.config, write)


def retry_after_handlers(calls: list[dict[str, object]]) -> list[Any]:
    """GET and DELETE ``/retry-after-violations``: the calls a double saw made before the
    Retry-After it had given for them ended (``calls``, kept by the double)."""

    @get("/retry-after-violations", sync_to_thread=False)
    def violations() -> Response[bytes]:
        return json_answer({"count": len(calls), "calls": calls})

    @delete("/retry-after-violations", sync_to_thread=False, status_code=204)
    def clear_violations() -> None:
        calls.clear()

    return [violations, clear_violations]


def ratelimit_reset_handler(limiter: RateLimiter) -> Any:
    """``POST /ratelimits/reset``: every bucket of ``limiter`` full again (204)."""

    @post("/ratelimits/reset", sync_to_thread=False, status_code=204)
    def reset_buckets() -> None:
        limiter.reset()

    return reset_buckets
