"""What a double serves on a sandbox, declared by its routes function (its ``Double``'s
``routes_at``) and assembled by the sandbox: its API's routes, its admin's own endpoints
mounted under /_sandbox/<name> beside those of what it declares it has (faults, call
limits, a rate limiter: docs/SANDBOX.md, "Admin endpoints"), and what it keeps in the
sandbox's state, written before each save."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_kit.admin import admin_router, limits_handlers
from keybuzz_sandbox.fault_admin import (
    fault_handlers,
    ratelimit_reset_handler,
    retry_after_handlers,
)
from keybuzz_sandbox.faults import FaultConfig, FaultInjector
from keybuzz_sandbox.ratelimit import RateLimiter

if TYPE_CHECKING:
    from keybuzz_sandbox.double_kit.api import CallLimits


@dataclass(frozen=True, kw_only=True)
class Served:
    api: Sequence[Any]  # its marketplace's routes (and what its files' hosts serve)
    admin: Sequence[Any] = ()  # its admin's own handlers, paths under /_sandbox/<name>
    # Its fault injector and the settings its admin's ``/faults`` takes.
    faults: tuple[FaultInjector, type[FaultConfig]] | None = None
    # Its call limits (``/limits``, ``/retry-after-violations``), with what else its
    # ``/limits/reset`` forgets (``limits_reset``: the limits' own by default).
    limits: CallLimits[Any, Any] | None = None
    limits_reset: Callable[[], None] | None = None
    limiter: RateLimiter | None = None  # its rate-limit buckets (``/ratelimits/reset``)
    kept: Callable[[], None] | None = None  # writes what it keeps into the sandbox's state
    admin_at: str = ""  # where its admin is mounted: /_sandbox/<name> unless given

    def mounted(self, name: str, sandbox: Any) -> list[Any]:
        """The routes of double ``name`` on ``sandbox`` (the ``Sandbox``, typed loosely: its
        config finds the doubles, which import this module), its admin's under its path."""
        if self.kept is not None:
            sandbox.before_save.append(self.kept)
        admin = list(self.admin)
        if self.faults is not None:
            admin += fault_handlers(*self.faults)
        if self.limits is not None:
            admin += limits_handlers(self.limits, self.limits_reset)
            admin += retry_after_handlers(self.limits.waits.inside)
        if self.limiter is not None:
            admin.append(ratelimit_reset_handler(self.limiter))
        return [*self.api, admin_router(self.admin_at or f"/_sandbox/{name}", admin)]
