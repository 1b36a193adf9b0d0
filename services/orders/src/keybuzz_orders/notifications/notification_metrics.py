"""Metrics of the order change notifications, on orders' ``/metrics`` (docs/OPERATIONS.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SERVICE = "orders"

NOTIFICATIONS = Counter(
    "keybuzz_orders_notifications",
    "ORDER_CHANGE notifications handled, by outcome: applied, stale (a newer state was "
    "held), duplicate, unknown_seller (not subscribed any more), dead_lettered (malformed), "
    "failed (its unit of work failed: left in the queue, delivered again).",
    ["service", "outcome"],
)
AGE = Histogram(
    "keybuzz_orders_notification_age_seconds",
    "From the notification's publication to its commit here.",
    ["service"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
LAG = Histogram(
    "keybuzz_orders_notification_lag_seconds",
    "From the order's change at its marketplace to its commit here.",
    ["service"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
QUEUE_DEPTH = Gauge(
    "keybuzz_orders_notification_queue_messages",
    "Messages in the notification queue (SQS ApproximateNumberOfMessages, sampled), by "
    "queue: main, dead_letter.",
    ["service", "queue"],
)
OLDEST = Gauge(
    "keybuzz_orders_notification_oldest_age_seconds",
    "Age of the oldest message received in the last batch (SQS SentTimestamp).",
    ["service"],
)
RECEIVE_ERRORS = Counter(
    "keybuzz_orders_notification_receive_errors",
    "Failed SQS calls (receive, delete, dead-letter): the queue is unreachable.",
    ["service"],
)
DETAILS_PENDING = Gauge(
    "keybuzz_orders_order_details_pending",
    "Orders waiting for getOrder to complete what a notification did not carry.",
    ["service"],
)
DETAILS_FETCHED = Counter(
    "keybuzz_orders_order_details_fetched",
    "Orders completed by getOrder after a notification.",
    ["service"],
)


def handled(outcome: str) -> None:
    NOTIFICATIONS.labels(SERVICE, outcome).inc()


def timings(age: float, lag: float) -> None:
    AGE.labels(SERVICE).observe(max(0.0, age))
    LAG.labels(SERVICE).observe(max(0.0, lag))


def queue_depth(queue: str, messages: int) -> None:
    QUEUE_DEPTH.labels(SERVICE, queue).set(messages)


def oldest(age: float) -> None:
    OLDEST.labels(SERVICE).set(max(0.0, age))


def receive_error() -> None:
    RECEIVE_ERRORS.labels(SERVICE).inc()


def details_pending(count: int) -> None:
    DETAILS_PENDING.labels(SERVICE).set(count)


def details_fetched() -> None:
    DETAILS_FETCHED.labels(SERVICE).inc()
