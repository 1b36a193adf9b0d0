"""orders settings (docs/CONTRACTS.md, "Configuration")."""

from typing import Annotated, ClassVar

import msgspec
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.settings import AtLeastOne, Seconds

from keybuzz_orders.backfill.jobs import BackfillDays


class OrdersSettings(MarketplaceSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "ORDERS_PORT"}

    http_port: int = 8003
    # How far back a backfill started by connection.connected goes (sources keep 2 years).
    backfill_days: BackfillDays = 90
    # An order listing's page size. Sources meter calls, not orders: keep the maximum.
    backfill_page_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    # Incremental sync of tenants whose backfill completed (updated after the source's cursor).
    orders_sync_interval_seconds: Annotated[float, msgspec.Meta(ge=1)] = 900.0
    # First back-off after a 429/5xx from SP-API (doubles, with jitter, up to 30 s).
    spapi_backoff_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.5
    # Strategy by size: a backfill whose first searchOrders page predicts more orders
    # than this goes through the orders report. 2,000 = searchOrders' burst (20) × 100:
    # up to there searchOrders finishes within its burst, beyond it every page costs
    # ~3 minutes while a report costs a few minutes whatever its size.
    backfill_report_threshold: AtLeastOne = 2000
    # Report windows (order reports are asked for 30 days at a time).
    backfill_report_window_days: Annotated[int, msgspec.Meta(ge=1, le=30)] = 30
    # The newest hours are read with searchOrders, not by report: order reports trail
    # by up to 30 minutes (the source's docs) and searchOrders gives the full order.
    backfill_report_tail_hours: Annotated[float, msgspec.Meta(ge=1, le=720)] = 24.0
    # How often each window's report status is asked: what it adds to a backfill is up to
    # this once (about half on average); 3 windows every 5 s use 0.6 of getReport's 2/s.
    backfill_report_poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    # A report not finished this long after it was requested reads its window with
    # searchOrders instead (reports take minutes; one stuck IN_PROGRESS would hold the
    # job for good).
    backfill_report_deadline_seconds: Seconds = 3600.0
    # A running job is leased by its instance and renewed every quarter of this; a killed
    # instance's jobs are resumed by another (or its restart) once the lease has expired.
    backfill_lease_seconds: Annotated[float, msgspec.Meta(ge=5, le=3600)] = 120.0
    # How many days of a backfill's window one CreatedAt date window of a connector's
    # listing covers (small windows keep a shop API's numbered pages few and shallow).
    connector_backfill_window_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 15
    # The order feed's change notifications (docs/ORDERS.md, "Order notifications"). Without
    # a queue URL none are subscribed to and the incremental sync alone keeps orders fresh.
    # Production: AWS's endpoint (SQS_ENDPOINT unset) and credentials from the IAM role or
    # the standard AWS_* environment, never from here.
    sqs_endpoint: str | None = None
    sqs_queue_url: str | None = None
    sqs_dead_letter_queue_url: str | None = None
    sqs_region: str = "eu-west-1"
    # Long polling: a receive waits up to this for a message (SQS's maximum is 20 s).
    sqs_wait_seconds: Annotated[int, msgspec.Meta(ge=0, le=20)] = 20
    # The queue unreachable: received again after 0.5 s, doubling (with jitter) up to this.
    sqs_retry_max_seconds: Seconds = 15.0

    def __post_init__(self) -> None:
        # Like Vault's: a production-like environment never talks to a queue in clear.
        for name, url in (
            ("SQS_ENDPOINT", self.sqs_endpoint),
            ("SQS_QUEUE_URL", self.sqs_queue_url),
            ("SQS_DEAD_LETTER_QUEUE_URL", self.sqs_dead_letter_queue_url),
        ):
            if self.is_production and url and not url.startswith("https://"):
                raise ValueError(
                    f"{name} must be an https:// address when KEYBUZZ_ENV={self.keybuzz_env}"
                )
        if self.sqs_queue_url and not self.sqs_dead_letter_queue_url:
            raise ValueError("SQS_DEAD_LETTER_QUEUE_URL is required with SQS_QUEUE_URL")
