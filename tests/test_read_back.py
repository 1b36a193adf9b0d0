"""The read-back's rule (``seam.read_back``): a seller's message a marketplace lists back
is our reply whatever rewriting of its text the marketplaces do, never a different text
(a shorter reply that begins a longer one included), and is looked for from a little
before the reply's queueing (the marketplace's clock may be behind ours)."""

from __future__ import annotations

import html
import textwrap
import time
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_sandbox.faults import rewritten
from keybuzz_shared.connectors.seam import (
    SENT_SKEW,
    InboxMessage,
    SenderType,
    ThreadKey,
    is_same_text,
    is_sent_reply,
    sent_since,
)
from keybuzz_shared.connectors.seam.read_back import UNESCAPE_ROUNDS, words

LONGEST = 60  # a marketplace's longest reply, in the cases below
OURS = (
    "Bonjour Mme Dupré,\n\nVotre colis part demain & arrive <vite>. C'est promis -- "
    '"sans faute"... \U0001f44d\U0001f3fd \u2764\ufe0f\nCordialement'
)


def _escaped(text: str, times: int) -> str:
    for _ in range(times):
        text = html.escape(text, quote=True)
    return text


def _wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False))


# One rewriting at a time, each keeping the words and not the characters.
REWRITTEN = {
    "as sent": OURS,
    "<br /> for line breaks": OURS.replace("\n", "<br />"),
    "<br> and <BR/>": OURS.replace("\n\n", "<br><BR/>").replace("\n", "<br>"),
    "paragraphs": "<p>" + OURS.replace("\n\n", "</p><p>").replace("\n", "<br/>") + "</p>",
    "entities, named": OURS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "entities, numeric": OURS.replace("&", "&#38;").replace("é", "&#xe9;"),
    "entities and line breaks": _escaped(OURS, 1).replace("\n", "<br />\n"),
    "escaped twice": _escaped(OURS, 2),
    "escaped thrice, with markup": "<div>" + _escaped(OURS, 3).replace("\n", "<br>") + "</div>",
    "every character a numeric entity": "".join(f"&#{ord(c)};" for c in OURS),
    "&nbsp;": OURS.replace(" ", "&nbsp;", 2),
    "a no-break space": OURS.replace(" ", "\u00a0"),
    "narrow no-break spaces": OURS.replace(" --", "\u202f--").replace(" ", "\u202f", 3),
    "CRLF": OURS.replace("\n", "\r\n"),
    "CR": OURS.replace("\n", "\r"),
    "trimmed": OURS.strip(),
    "padded": f"  \n{OURS}\n\t ",
    "whitespace collapsed": " ".join(OURS.split()),
    "NFD": unicodedata.normalize("NFD", OURS),
    "NFKD": unicodedata.normalize("NFKD", OURS),
    "typographic apostrophe": OURS.replace("'", "\u2019"),
    "apostrophe as an entity": OURS.replace("'", "&#39;"),
    "em dash for --": OURS.replace("--", "\u2014"),
    "en dash for --": OURS.replace("--", "\u2013"),
    "ellipsis for ...": OURS.replace("...", "\u2026"),
    "curly double quotes": OURS.replace('"sans', "\u201csans").replace('faute"', "faute\u201d"),
    "German quotes": OURS.replace('"sans', "\u201esans").replace('faute"', "faute\u201c"),
    "French quotes": OURS.replace('"sans', "\u00ab\u00a0sans").replace(
        'faute"', "faute\u00a0\u00bb"
    ),
    "soft hyphens": OURS.replace("Cordialement", "Cor\u00addia\u00adle\u00adment"),
    "zero-width characters": OURS.replace("colis", "co\u200bli\u200cs\u2060").replace(
        "Bonjour", "\ufeffBon\u200djour"
    ),
    "<div>, <span>, <b> wrappers": f'<div class="msg"><span><b>{OURS[:7]}</b>{OURS[7:]}</span></div>',
    "emoji variation selector dropped": OURS.replace("\ufe0f", ""),
    "emoji skin tone changed": OURS.replace("\U0001f3fd", "\U0001f3ff"),
    "emoji skin tone dropped": OURS.replace("\U0001f3fd", ""),
    "emoji as short codes": OURS.replace("\U0001f44d\U0001f3fd", ":thumbsup::skin-tone-4:").replace(
        "\u2764\ufe0f", ":heart:"
    ),
    "emoji as an image": OURS.replace("\u2764\ufe0f", '<img alt="heart" src="h.png"/>'),
    "emoji removed": OURS.replace("\U0001f44d\U0001f3fd \u2764\ufe0f", ""),
    "lines re-wrapped": _wrapped(OURS, 20),
    "fullwidth letters": OURS.replace("Cordialement", "Ｃｏｒｄｉａｌｅｍｅｎｔ"),
    "upper case": OURS.upper(),
    "the doubles' rewriting, all at once": rewritten(OURS),
}


@pytest.mark.parametrize("rewriting", REWRITTEN)
def test_a_reply_rewritten_by_the_marketplace_is_recognised(rewriting: str) -> None:
    assert is_same_text(OURS, REWRITTEN[rewriting], max_length=5_000)


def test_the_words_are_what_every_rewriting_keeps() -> None:
    kept = "bonjour mme dupré votre colis part demain arrive c est promis sans faute cordialement "
    assert words(OURS) == kept
    assert {words(text) for text in REWRITTEN.values()} == {kept}


def test_a_literal_entity_in_our_reply_is_recognised_escaped_or_not() -> None:
    ours = "Tapez &amp; dans le champ <br> svp"
    assert is_same_text(ours, ours, max_length=5_000)
    escaped = ours.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert is_same_text(ours, escaped, max_length=5_000)


ANOTHER = OURS.replace("demain", "lundi")


@pytest.mark.parametrize(
    "listed",
    [
        ANOTHER,  # another reply's text: one word differs
        rewritten(ANOTHER),  # another reply's text, rewritten
        OURS.replace("Dupré", "Dupre"),  # an accent is a letter
        OURS.replace("part demain", "demain part"),  # the same words in another order
        OURS.replace(" promis", ""),  # a word less
        OURS + " PS: merci",  # a word more
        "Bonjour Mme Dupré,",  # the beginning of ours, shorter than the longest reply
        rewritten("Bonjour Mme Dupré,"),
        "\U0001f44d\U0001f3fd \u2764\ufe0f",  # only its emoji
        "",
        "<div><br /></div>",
        _escaped(OURS, 11),  # escaped more than UNESCAPE_ROUNDS times: not undone
    ],
)
def test_a_different_text_is_not_our_reply(listed: str) -> None:
    assert not is_same_text(OURS, listed, max_length=5_000)


def test_a_reply_without_words_is_recognised_only_as_it_was_sent() -> None:
    """An emoji-only reply has no words every rewriting keeps: shown as sent (markup,
    escaping, spaces and variation selectors aside) it is ours; an emoji rewritten, the
    read-back cannot tell (an agent decides). Nothing at all is never a reply."""
    thumbs = "\U0001f44d\U0001f3fd \u2764\ufe0f"
    assert is_same_text(thumbs, f"<p>{thumbs.replace(chr(0xFE0F), '')}</p>", max_length=5_000)
    assert is_same_text("!!!", "&amp;#33;!!", max_length=5_000)
    assert not is_same_text(thumbs, ":thumbsup: :heart:", max_length=5_000)
    assert not is_same_text(thumbs, "\U0001f44d \u2764", max_length=5_000)
    assert not is_same_text(thumbs, "Merci", max_length=5_000)
    assert not is_same_text("Merci", "\U0001f44d", max_length=5_000)
    for nothing in (" ", "<br />", "\u200b"):
        assert not is_same_text(nothing, nothing, max_length=5_000)


def test_replies_differing_only_in_punctuation_or_emoji_are_taken_for_each_other() -> None:
    """The price of comparing words: "Merci" and "Merci !" are one reply to the
    read-back. It looks only at the seller's messages on the reply's own thread from two
    minutes before its queueing (``SENT_SKEW``): the same words posted there by the seller
    meanwhile say what ours said, so not sending ours again loses nothing."""
    assert is_same_text("Merci", "Merci !", max_length=5_000)
    assert is_same_text("Merci \U0001f642", "merci.", max_length=5_000)
    assert not is_same_text("Merci", "Merci beaucoup !", max_length=5_000)


def test_a_hostile_text_is_compared_in_bounded_time() -> None:
    """Escaping nested thousands of times, or tags and entities in bulk, is undone
    ``UNESCAPE_ROUNDS`` times at most: a poll is not stalled by one message."""
    nested = "&" + "amp;" * 20_000 + "lt;b&gt;" * 2_000
    # CPU time, this process's own: what the work costs, not how busy the machine is.
    started = time.process_time()
    assert not is_same_text(OURS, nested, max_length=5_000)
    assert not is_same_text(OURS, "<" * 20_000 + "&#x" * 20_000, max_length=5_000)
    assert time.process_time() - started < 5
    assert UNESCAPE_ROUNDS >= 3


def test_a_text_cut_at_the_longest_reply_is_recognised_only_at_that_length() -> None:
    ours = "Votre remboursement est parti ce matin. " * 4  # > LONGEST
    shown = ours.replace(" ", "&nbsp;")
    cut = shown[:LONGEST]  # the marketplace keeps its longest reply (half an entity, maybe)
    assert is_same_text(ours, cut, max_length=LONGEST)
    assert is_same_text(ours, ours[:LONGEST], max_length=LONGEST)
    # A shorter reply that begins ours is another reply, not ours cut.
    assert not is_same_text(ours, ours[: LONGEST - 1], max_length=LONGEST)
    assert not is_same_text(ours, "Votre remboursement", max_length=LONGEST)
    # Cut or not, it must begin ours.
    other = "Votre remboursement est refusé ce matin. " * 4
    assert not is_same_text(ours, other[:LONGEST], max_length=LONGEST)


def test_the_read_back_looks_a_little_before_the_replys_queueing() -> None:
    """The marketplace's clock may be behind ours: a message it dates a minute before we
    queued the reply is still ours; one dated before the margin is an earlier message."""
    queued = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    behind = queued - timedelta(minutes=1)
    assert SENT_SKEW >= timedelta(minutes=1)
    assert is_sent_reply(OURS, queued, OURS.replace("\n", "<br />"), behind, 5_000)
    assert is_sent_reply(OURS, queued, OURS, queued - SENT_SKEW, 5_000)
    earlier = queued - SENT_SKEW - timedelta(seconds=1)
    assert not is_sent_reply(OURS, queued, OURS, earlier, 5_000)


def test_a_reply_channels_read_back_lists_from_a_little_before_the_queueing() -> None:
    """``sent_since`` (what a reply channel's ``sent_messages`` gives back) takes the same
    margin: the seller's message dated a minute before the queueing by a marketplace whose
    clock is behind ours is listed; one dated before the margin, or the buyer's, is not."""
    queued = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def listed(message_id: str, sender: SenderType, at: datetime) -> InboxMessage:
        return InboxMessage(
            message_id=message_id,
            thread=ThreadKey(kind="ORDER", id="O1"),
            sender_type=sender,
            sender_name=None,
            subject="",
            body=OURS,
            created_at=at,
            unread=False,
        )

    found = sent_since(
        [
            listed("behind", "SELLER", queued - timedelta(minutes=1)),
            listed("earlier", "SELLER", queued - SENT_SKEW - timedelta(seconds=1)),
            listed("buyer", "BUYER", queued),
        ],
        queued,
    )
    assert [m.message_id for m in found] == ["behind"]
