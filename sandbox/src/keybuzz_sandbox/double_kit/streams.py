"""When a drawn shop's orders and buyers' questions about offers happen: event ``i`` of a
stream at virtual time ``base + (i + jitter(i mod N)) * slot``, ``slot = window / N``, so
any window holds the shop's N orders, and how many happened before a moment is computed
from the moment, nothing stored (a 50,000-order shop costs nothing until asked for)."""

from __future__ import annotations

from keybuzz_sandbox.double_kit.draws import unit

ASK_RATE = 0.18  # share of orders a buyer asks about


class DrawnStreams:
    """A shop's two streams drawn from ``parts`` (the sandbox's seed, the shop): its
    ``order_count`` orders in ``window`` seconds before ``anchor``, one buyer's question
    about an offer for every ``offer_every`` orders."""

    def __init__(
        self,
        parts: tuple[object, ...],
        order_count: int,
        window: float,
        anchor: float,
        offer_every: int,
    ) -> None:
        self.parts = parts
        self.period = order_count
        self.window = window
        self.anchor = anchor
        self.base = anchor - window
        self.slot = window / order_count
        self.offer_slot = self.slot * offer_every

    def _placed(self, index: int, slot: float, stream: str) -> float:
        jitter = 0.05 + 0.9 * unit(*self.parts, stream, index % self.period)
        return self.base + (index + jitter) * slot

    def _count_before(self, virtual: float, slot: float, stream: str) -> int:
        if virtual < self.base:
            return 0
        k = int((virtual - self.base) // slot)
        return k + 1 if self._placed(k, slot, stream) <= virtual else k

    def purchase_time(self, index: int) -> float:
        return self._placed(index, self.slot, "order")

    def placed_before(self, virtual: float) -> int:
        """Orders placed at or before ``virtual`` (orders are in time order)."""
        return self._count_before(virtual, self.slot, "order")

    def placed_in(
        self, virtual_now: float, low: float | None, high: float | None, reach: float = 0.0
    ) -> range:
        """Indices of the orders placed by ``virtual_now`` a date filter [low, high] may
        select (orders are in time order): ``reach``, how long an order keeps changing, when
        the filter is on a change's date rather than the order's placing."""
        last = self.placed_before(virtual_now)
        first = 0 if low is None else self.placed_before(low - reach - 1e-6)
        if high is not None:
            last = min(last, self.placed_before(high))
        return range(first, max(first, last))

    def talked_about(self, index: int, claim_rate: float) -> tuple[bool, bool]:
        """Whether a buyer asks about order ``index``, and whether they claim (if it ships):
        cheap, so that only those orders' threads are drawn."""
        return (
            unit(*self.parts, index, "asks") < ASK_RATE,
            unit(*self.parts, index, "claims") < claim_rate,
        )

    def offer_question_time(self, index: int) -> float:
        return self._placed(index, self.offer_slot, "offer")

    def offer_questions_before(self, virtual: float) -> int:
        return self._count_before(virtual, self.offer_slot, "offer")
