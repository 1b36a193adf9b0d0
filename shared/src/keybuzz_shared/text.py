"""Text from outside that we store or show: the rules, once.

PostgreSQL's ``text`` holds neither NUL nor lone surrogates (what undecodable bytes
become); control characters would break a log line, a header or the frontend's message.
"""

from __future__ import annotations


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store ``text`` as it is (no NUL, no lone surrogate).

    UTF-8 refuses exactly the surrogates, so its encoder (C) finds them: a reply's body of a
    megabyte read character by character in Python held the event loop for a tenth of a
    second."""
    if "\x00" in text:
        return False
    if text.isascii():  # O(1)
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> str:
    """``text`` with each NUL replaced by U+FFFD and each lone surrogate by ``?``
    (UTF-8's own replacement when encoding), everything else kept."""
    if not text.isascii():  # O(1): only a non-ASCII string can hold a lone surrogate
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def storable_json(items: list[dict[str, object]]) -> list[dict[str, object]]:
    """A listing of records (a message's files) with each of their strings storable."""
    return [{k: storable(v) if isinstance(v, str) else v for k, v in i.items()} for i in items]


def one_line(text: str) -> str:
    """Storable and showable on one line: every non-printable character becomes a space."""
    return "".join(c if c.isprintable() else " " for c in text)


NAME_LENGTH = 200  # a display name longer than this is cut


def display_name(text: str | None) -> str | None:
    """A person's name from outside as we keep and show it: on one line, trimmed, at most
    ``NAME_LENGTH`` characters; None when nothing is left or when it holds an ``@``: an
    e-mail address (or a login made of one) is never shown as a name."""
    if not text or "@" in text:
        return None
    shown = " ".join(one_line(storable(text)).split())[:NAME_LENGTH].rstrip()
    return shown or None
