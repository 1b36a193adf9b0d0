"""Whether a seller's message a marketplace lists back is one of our replies.

A reply whose send's answer was lost is looked for on its thread before it is sent again.
No marketplace's API keeps a marker of ours on a message or takes an idempotency key, so
the reply's words are the match. Marketplaces give the text back rewritten, each its own
way and not only in ways seen so far: markup (``<br />``, paragraphs, ``<div>``, ``<b>``),
HTML entities, once or escaped again (``&amp;amp;``), line ends and wrapping, whitespace,
Unicode forms, typography (``’`` for ``'``, ``—`` for ``--``, ``…``, « »), soft hyphens
and zero-width characters, emoji altered, replaced by ``:shortcodes:`` or removed, and the
text cut to their longest reply. So no list of rewritings is undone: both texts are
reduced to what every such rewriting keeps, their words (``words``), and compared there.
``is_sent_reply`` also takes the message's date from ``SENT_SKEW`` before the reply's
queueing: the one clock margin of every read-back (``sent_since`` lists from it too)."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timedelta

from keybuzz_shared.times import as_utc

# How much earlier than a reply's queueing its read-back looks: a marketplace dates a
# message by a clock that is not ours (behind ours, or to the second only).
SENT_SKEW = timedelta(minutes=2)

# A markup tag, any (``<br />``, ``<p class=…>``, ``</div>``, ``<b>``).
_TAG = re.compile(r"<[^<>]*>")
# Emoji written as short codes (``:thumbsup:``, ``:+1:``, ``:wave::skin-tone-2:``), not
# a time (``10:30:``): nothing of a word right before or after them.
_SHORTCODE = re.compile(r"(?<!\w)(?::[\w+-]+:)+(?!\w)")
# What a cut may leave at the end of a listed text: half an entity or half a tag.
_CUT_MARKUP = re.compile(r"&#?\w*$|<[^>]*$")
# A text escaped again and again is undone this many times at most: escaped twice or
# thrice is seen, ten times bounds the work a hostile text can ask for.
UNESCAPE_ROUNDS = 10
# Characters dropped, not taken as a break between words: format characters (soft
# hyphen, zero-width space and joiner, BOM) and combining marks left over after NFKC
# (emoji variation selectors).
_DROPPED = frozenset({"Cf", "Mn", "Me"})


def _visible(text: str) -> str:
    """``text`` in compatibility form (NFKC: a no-break space a space, a decomposed accent
    composed, ``…`` three dots), without its format characters and stray combining marks."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) not in _DROPPED)


def _unmarked(text: str) -> str:
    """``text`` with its markup and escaping undone to a fixpoint (at most
    ``UNESCAPE_ROUNDS`` times): tags and ``:shortcodes:`` are breaks between words,
    entities their characters (made visible each time, so that an escaped soft hyphen
    inside a short code leaves it whole)."""
    for _ in range(UNESCAPE_ROUNDS):
        plain = _visible(html.unescape(_SHORTCODE.sub(" ", _TAG.sub(" ", _visible(text)))))
        if plain == text:
            break
        text = plain
    return text


def words(text: str) -> str:
    """What any rewriting that keeps the words keeps of ``text``: its letters and digits
    in order (markup and escaping undone, compatibility form NFKC, case folded), each word
    ended by one space. Punctuation, symbols, emoji and whitespace are only breaks between
    words; format characters and stray combining marks are dropped (a soft hyphen or a
    zero-width space inside a word leaves it whole)."""
    return "".join(f"{word} " for word in re.findall(r"[^\W_]+", _unmarked(text).casefold()))


def _compared(text: str) -> str:
    """What of ``text`` is compared: its ``words``; a text without any (emoji only), its
    visible characters as they are (markup, escaping, whitespace and invisible characters
    aside): an emoji's rewriting is not undone, the read-back then cannot tell."""
    return words(text) or "".join(_unmarked(text).split())


def is_same_text(ours: str, listed: str, max_length: int) -> bool:
    """Whether ``listed`` (a message's text as the marketplace gives it back) is ``ours``
    as the marketplace may have rewritten it: the same words in the same order
    (``words``), whatever became of the rest. A reply without a word (emoji only) is
    recognised only shown as it was (``_compared``).

    A listed text at least ``max_length`` characters long (the marketplace's longest reply,
    the connector's ``Limits.max_text_length``) may be ours cut there: then its words need
    only begin ours (its last one maybe cut). A shorter one must be all of it, so that a
    short reply is never taken for a longer one it begins."""
    wanted = _compared(ours)
    if not wanted:
        return False
    if _compared(listed) == wanted:
        return True
    if len(listed) < max_length:
        return False
    cut = _compared(_CUT_MARKUP.sub("", listed)).rstrip()
    return bool(cut) and wanted.startswith(cut)


def is_sent_reply(
    ours: str, queued_at: datetime, listed: str, written_at: datetime, max_length: int
) -> bool:
    """Whether a seller's message the marketplace lists (``listed``, written at
    ``written_at``) is our reply ``ours`` queued at ``queued_at``: the same words as the
    marketplace may have rewritten them (``is_same_text``), written no earlier than
    ``SENT_SKEW`` before the reply was queued."""
    return as_utc(written_at) >= as_utc(queued_at) - SENT_SKEW and is_same_text(
        ours, listed, max_length
    )
