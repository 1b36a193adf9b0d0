"""orders settings (DESIGN.md §7)."""

from typing import Annotated, ClassVar

import msgspec
from keybuzz_shared.amazon.settings import AmazonSettings


class OrdersSettings(AmazonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "ORDERS_PORT"}

    http_port: int = 8003
    # How far back a backfill started by connection.connected goes (Amazon keeps 2 years).
    backfill_days: Annotated[int, msgspec.Meta(ge=1, le=730)] = 90
    # searchOrders page size. Amazon meters calls, not orders: keep the maximum.
    backfill_page_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    # Incremental sync of tenants whose backfill completed (lastUpdatedAfter Amazon's cursor).
    orders_sync_interval_seconds: Annotated[float, msgspec.Meta(ge=1)] = 900.0
    # First back-off after a 429/5xx from SP-API (doubles, with jitter, up to 30 s).
    spapi_backoff_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.5
