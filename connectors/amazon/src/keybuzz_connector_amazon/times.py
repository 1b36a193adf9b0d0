"""Amazon's timestamps: ISO 8601 in UTC, to the second, with a ``Z`` (the seam's window
times: ``amazon_time`` gives ``2026-11-22T08:00:00Z`` for any aware moment)."""

from __future__ import annotations

from keybuzz_shared.connectors.orders import parse_window_time, window_time

amazon_time = window_time
parse_amazon_time = parse_window_time
