"""What one reply and one listing may hold on a marketplace."""

from __future__ import annotations

import msgspec


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What one reply and one listing may hold on this marketplace."""

    max_attachments: int
    max_attachment_bytes: int  # all the attachments of one reply together
    max_text_length: int  # characters of a reply's body
    page_size: int  # items a listing page asks for
    # The attachments' media types a reply may carry; empty: the marketplace lists none.
    attachment_formats: tuple[str, ...] = ()
    # Each attachment of a reply on its own; None: only ``max_attachment_bytes`` bounds it.
    max_file_bytes: int | None = None
