"""A listing's parameters the marketplace documents but may refuse (an option its
reference gives and no integration has seen it take): asked while it takes them; once a
page is refused for them (400), said in the log and left out for the rest of the session,
the listing going on without what they add (discussions listed with their messages,
read whole one by one otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from keybuzz_shared.connectors.kit import Listing
from keybuzz_shared.connectors.seam import CallRefused

log = logging.getLogger(__name__)

M = TypeVar("M")  # what an answer says of the next page


def optional_params(
    fetch: Listing.Fetch[M], optional: Mapping[str, str], label: str
) -> Listing.Fetch[M]:
    """``fetch`` asked with ``optional`` beside each query until ``label`` (the
    marketplace) refuses a page for them; then without them."""
    asked = True
    named = "&".join(f"{key}={value}" for key, value in optional.items())

    async def page(query: dict[str, str], link: str | None) -> tuple[Sequence[Any], M]:
        nonlocal asked
        if asked:
            try:
                return await fetch({**query, **optional}, link)
            except CallRefused as refused:
                if refused.status != 400:
                    raise
                log.warning("%s refused %s (%s): listing without it", label, named, refused.detail)
                asked = False
        return await fetch(query, link)

    return page
