"""Answers of an API that does not speak JSON (an XML seller API), as the requester reads
them (``ApiSpec.answers``): the media type asked for and sent, the document parsed (for
XML, by the kit's guard: xml_answers.py), and what the document's own envelope says of
the call beside its HTTP status. An envelope that refuses is read by the marketplace's
``Refusals`` like a refusal over HTTP (its token expired: renewed once; a login's: the
credentials refused; else its own error); one that only asks to come back soon is asked
again like a 429. An error status whose answer is of this type (but a 429 or one of the
credentials' statuses) is read like any answer: its envelope says what was refused.

Such an API carries the shop's token in the request's body: a call's body is made again
at each sending from what the authentication carries (``Requester.post_document``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol


class Garbled(Exception):
    """An answer cut short or not of the format at all (a server failing mid-answer): a
    read asks again, a send's outcome is unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refusal(NamedTuple):
    """What an envelope refuses: ``reason``, its own words (a status and codes) for logs;
    ``later``: the marketplace only asks to come back soon."""

    reason: str
    later: bool = False


class Answers(Protocol):
    """How a marketplace's documents are read."""

    @property
    def content_type(self) -> str:
        """Its requests' type ("text/xml; charset=utf-8"); its media type is asked for."""
        ...

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Any:
        """The document of an answer: ``Garbled`` for one cut short or not of the format,
        the marketplace's unreadable answer for any other (a DTD, another encoding). What
        it keeps of the answer's texts goes through ``redact`` (the shop's secrets out)."""
        ...

    def refusal(self, document: Any) -> Refusal | None:
        """What the document's envelope refuses; None when it accepts the call."""
        ...
