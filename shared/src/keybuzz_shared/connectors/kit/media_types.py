"""A file's media type where the marketplace names none, only a file name or a format
("pdf", "docx"): the first the platform's table of types knows, else the type of any
bytes (``application/octet-stream``), never a guess from the file's content."""

from __future__ import annotations

import mimetypes

ANY_BYTES = "application/octet-stream"


def media_type(*names: str) -> str:
    """The media type of the first of ``names`` (a file name, ``file.pdf``) the table
    knows; ``ANY_BYTES`` where it knows none."""
    for name in names:
        found = mimetypes.guess_type(name)[0]
        if found:
            return found
    return ANY_BYTES
