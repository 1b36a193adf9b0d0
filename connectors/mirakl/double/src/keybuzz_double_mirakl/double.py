"""The running Mirakl double: its operator instances, their shops and keys, each endpoint's
call frequency, the calls made inside a Retry-After, and faults."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated, ClassVar

import msgspec
from keybuzz_sandbox.clock import Clock
from keybuzz_sandbox.double_kit.api import CallLimits, Enforced, RetryAfters, iso_millis
from keybuzz_sandbox.faults import JSON_KINDS, FaultInjector, SlowFaultConfig
from keybuzz_sandbox.ratelimit import RateLimit, RateLimiter

from .book import ShopBook
from .operators import OperatorSpec, ShopSpec, api_key, extra_specs, shop_id

# Mirakl seconds between two calls of a shop, per endpoint (first pages only: following a
# page token or an offset is the same call, the double's assumption). Official: OR11 "once
# per minute" at most, A21 "once per day". M11 is documented "synchronous only, at each
# page display": the double allows a background poll once a minute (assumed).
FREQUENCIES: dict[str, float] = {"OR11": 60.0, "A21": 86_400.0, "M11": 60.0}
# The synchronous-only endpoints (M10, M12, M13, OR43, and M11's further pages) have no
# figure: 5 calls a second per shop and endpoint, bursts of 20 (assumed).
SYNCHRONOUS = RateLimit(rate_text="5", burst=20)


class MiraklFaultConfig(SlowFaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/mirakl/faults (docs/SANDBOX.md, "Mirakl double"): `operations`
    names Mirakl's codes, one operator's (``BOULANGER.M11``) or an operator's every call."""

    malformed_kinds: ClassVar[tuple[str, ...]] = (*JSON_KINDS, "html", "redirect")
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=1)] = 1


class MiraklFaults(FaultInjector):
    def applies_to(self, op_key: str) -> bool:
        code = op_key.split(".", 1)[0]
        return super().applies_to(op_key) or code in self.config.operations


class Operator:
    """One operator's instance: its shops (each made on first use), and its shop users'
    keys."""

    def __init__(self, seed: str, spec: OperatorSpec, anchor: float, extra_shops: int) -> None:
        self.seed, self.spec, self.anchor = seed, spec, anchor
        self.specs: dict[int, ShopSpec] = {shop_id(seed, spec.code, s.name): s for s in spec.shops}
        self.specs.update(extra_specs(spec, extra_shops))
        self.owners = {number: s.key_owner or s.name for number, s in self.specs.items()}
        self.books: dict[int, ShopBook] = {}
        self.generations: dict[str, int] = {}
        self.keys: dict[str, list[int]] = {}
        self._index_keys()

    def book(self, number: int) -> ShopBook | None:
        book = self.books.get(number)
        if book is None and number in self.specs:
            book = ShopBook(self.seed, self.spec, self.specs[number], number, self.anchor)
            self.books[number] = book
        return book

    def _index_keys(self) -> None:
        self.keys = {}
        for number, owner in self.owners.items():
            self.keys.setdefault(self.key_of(owner), []).append(number)

    def key_of(self, owner: str) -> str:
        return api_key(self.seed, self.spec.code, owner, self.generations.get(owner, 0))

    def shop_key(self, number: int) -> str:
        return self.key_of(self.owners[number])

    def rotate(self, number: int) -> str:
        """A new key for the user of shop ``number``: the old one stops working for every
        shop it served."""
        owner = self.owners[number]
        self.generations[owner] = self.generations.get(owner, 0) + 1
        self._index_keys()
        return self.key_of(owner)


class MiraklDouble:
    def __init__(
        self,
        seed: str,
        specs: Iterable[OperatorSpec],
        clock: Clock,
        extra_shops: int = 0,
        frequency_factor: float = 1.0,
    ) -> None:
        self.clock = clock
        self.frequency_factor = frequency_factor  # SANDBOX_MIRAKL_FREQUENCY_FACTOR
        self.operators = {
            spec.code: Operator(seed, spec, clock.anchor, extra_shops) for spec in specs
        }
        self.faults = MiraklFaults(f"{seed}|mirakl", MiraklFaultConfig())
        self.limiter = RateLimiter(clock)
        waits: RetryAfters[tuple[str, int, str]] = RetryAfters(clock.now, iso_millis)
        self.limits = CallLimits(Enforced(), waits, clock.real_duration)
        self.calls: Counter[tuple[str, int, str]] = Counter()  # every call a shop made

    def book(self, code: str, number: int) -> ShopBook | None:
        operator = self.operators.get(code)
        return None if operator is None else operator.book(number)

    # --- frequencies -----------------------------------------------------------------------

    def note_call(self, code: str, number: int, operation: str) -> None:
        """Counts the call, and apart a call made before the Retry-After the shop was
        given for it ended."""
        self.calls[code, number, operation] += 1
        call: dict[str, object] = {"operator": code, "shopId": number, "operation": operation}
        self.limits.waits.noted((code, number, operation), call)

    def admit(self, code: str, number: int, operation: str, first_page: bool) -> int | None:
        """None when the call is within the endpoint's frequency; else the Retry-After
        (whole real seconds) it is refused with."""
        if not self.limits.settings.enforced:
            return None
        key, documented = (code, number, operation), FREQUENCIES.get(operation)
        if documented is None or not first_page:
            if self.limiter.allow(("mirakl", code, str(number), operation), SYNCHRONOUS):
                return None
            return self.limits.refused(key, 1 / SYNCHRONOUS.rate)
        period = documented * self.frequency_factor
        wait = self.limits.spaced(key, period, self.clock.monotonic())
        return None if wait is None else self.limits.refused(key, wait)

    def reset_limits(self) -> None:
        self.limiter.reset()
        self.limits.reset()
