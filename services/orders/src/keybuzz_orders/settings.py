"""orders settings (DESIGN.md §7)."""

from typing import ClassVar

from keybuzz_shared.amazon.settings import AmazonSettings


class OrdersSettings(AmazonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "ORDERS_PORT"}

    http_port: int = 8003
    backfill_days: int = 90
