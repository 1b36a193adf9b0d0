"""Whether a seller's message a marketplace lists back is one of our replies.

A reply whose send's answer was lost is looked for on its thread before it is sent again.
Marketplaces give the text back rewritten: line breaks as HTML (``<br />``, paragraphs),
characters as HTML entities (named and numeric, ``&nbsp;``), CRLF or CR line ends,
whitespace trimmed or collapsed, Unicode in another normal form, and the text cut to their
longest reply. ``is_sent_reply`` undoes each of those on both sides before comparing, and
takes the message's date from ``SENT_SKEW`` before the reply's queueing: the one clock
margin of every read-back (``sent_since`` lists from it too)."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timedelta

from keybuzz_shared.times import as_utc

# How much earlier than a reply's queueing its read-back looks: a marketplace dates a
# message by a clock that is not ours (behind ours, or to the second only).
SENT_SKEW = timedelta(minutes=2)

# The HTML a marketplace puts where the text had a line break: <br>, <br/>, <br />, and
# paragraphs (<p>, </p>, <p class=…>), any case.
_BREAKS = re.compile(r"<\s*br\s*/?\s*>|<\s*/?\s*p(?:\s[^>]*)?/?\s*>", re.IGNORECASE)
# What a cut may leave at the end of a listed text: half an entity or half a tag.
_CUT_MARKUP = re.compile(r"&#?\w*$|<[^>]*$")


def _plain(text: str) -> str:
    """``text`` with line ends, Unicode form and whitespace made one: compatibility
    normal form (NFKC: a no-break space is a space, a decomposed accent is composed), any
    run of whitespace one space, none at either end."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _from_html(text: str) -> str:
    """``text`` read as HTML: its line-break tags line breaks, its entities characters."""
    return html.unescape(_BREAKS.sub("\n", text))


def is_same_text(ours: str, listed: str, max_length: int) -> bool:
    """Whether ``listed`` (a message's text as the marketplace gives it back) is ``ours``
    as the marketplace may have rewritten it: as it was, or read as HTML (a marketplace
    that escapes and breaks lines as HTML), up to line ends, Unicode form and whitespace.

    A listed text at least ``max_length`` characters long (the marketplace's longest reply,
    the connector's ``Limits.max_text_length``) may be ours cut there: then it need only
    begin ours. A shorter one must be all of it, so that a short reply is never taken for a
    longer one it begins."""
    wanted = _plain(ours)
    if not wanted:
        return False
    readings = {_plain(listed), _plain(_from_html(listed))}
    if wanted in readings:
        return True
    if len(listed) < max_length:
        return False
    cut = _CUT_MARKUP.sub("", listed)
    return any(
        reading and wanted.startswith(reading) for reading in (_plain(cut), _plain(_from_html(cut)))
    )


def is_sent_reply(
    ours: str, queued_at: datetime, listed: str, written_at: datetime, max_length: int
) -> bool:
    """Whether a seller's message the marketplace lists (``listed``, written at
    ``written_at``) is our reply ``ours`` queued at ``queued_at``: the same text as the
    marketplace may have rewritten it (``is_same_text``), written no earlier than
    ``SENT_SKEW`` before the reply was queued."""
    return as_utc(written_at) >= as_utc(queued_at) - SENT_SKEW and is_same_text(
        ours, listed, max_length
    )
