"""A message's file given as a link (a file host's URL), as the seam's ``InboxFile``: named
by the link's last path segment, decoded (its id where the link names none), its media
type guessed from that name (``application/octet-stream`` where none is known); a
file's media type where the marketplace gives one with it, or only its name."""

from __future__ import annotations

import mimetypes
from urllib.parse import unquote, urlsplit

from keybuzz_shared.connectors.seam import InboxFile


def media_type_of(*names: str) -> str:
    """A file's media type as the first of its ``names`` the platform's table knows says
    it (its name, or ``file.<format>`` where the marketplace gives a format)."""
    known = (mimetypes.guess_type(name)[0] for name in names)
    return next((found for found in known if found), "application/octet-stream")


def file_type(name: str, given: str | None = None) -> str:
    """The media type of the file ``name``: the one the marketplace ``given`` with it when
    that is one (``type/subtype``), else the one its name says."""
    if given and "/" in given:
        return given.strip().lower()
    return media_type_of(name)


def linked_file(url: str, file_id: str) -> InboxFile:
    """The file at ``url``, named as its link names it, else ``file_id``."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or file_id
    return InboxFile(name=name, url=url, content_type=media_type_of(name))
