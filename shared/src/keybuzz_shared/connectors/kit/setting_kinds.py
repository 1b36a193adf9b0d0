"""The kinds of value a shop API's settings take (``ShopSettings``' fields), declared once:
each a type msgspec checks as the settings load, so that a variable off its kind is refused
at start-up, naming it (``settings.load_settings``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

# Seconds above zero: each connect or read's timeout, a call's deadline.
Seconds = Annotated[float, msgspec.Meta(gt=0)]
# A whole number from one: an interval in seconds, a size in bytes, calls a day.
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
# How far back a shop's first poll reads, in days: one to 90.
FirstPollDays = Annotated[int, msgspec.Meta(ge=1, le=90)]
