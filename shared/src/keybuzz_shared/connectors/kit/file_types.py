"""A message's file's media type, where the marketplace may give one with the file or only
its name: the one given when it is a media type (``type/subtype``), else the one its name's
extension says, else ``application/octet-stream`` (bytes, never guessed further)."""

from __future__ import annotations

import mimetypes


def file_type(name: str, given: str | None = None) -> str:
    """The media type of the file ``name``, ``given`` by the marketplace or not."""
    if given and "/" in given:
        return given.strip().lower()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
