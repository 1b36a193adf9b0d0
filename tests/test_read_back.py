"""The read-back's rule (``seam.read_back``): a seller's message a marketplace lists back
is our reply whatever rewriting of its text the marketplaces do, never a different text
(a shorter reply that begins a longer one included), and is looked for from a little
before the reply's queueing (the marketplace's clock may be behind ours)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_shared.connectors.seam import (
    SENT_SKEW,
    InboxMessage,
    SenderType,
    ThreadKey,
    is_same_text,
    is_sent_reply,
    sent_since,
)

LONGEST = 60  # a marketplace's longest reply, in the cases below
OURS = "Bonjour Mme Dupré,\n\nVotre colis part demain & arrive <vite>.\nCordialement"

REWRITTEN = {
    "as sent": OURS,
    "<br /> for line breaks": OURS.replace("\n", "<br />"),
    "<br> and <BR/>": OURS.replace("\n\n", "<br><BR/>").replace("\n", "<br>"),
    "paragraphs": "<p>" + OURS.replace("\n\n", "</p><p>").replace("\n", "<br/>") + "</p>",
    "entities, named": OURS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "entities, numeric": OURS.replace("&", "&#38;").replace("é", "&#xe9;"),
    "entities and line breaks": OURS.replace("&", "&amp;")
    .replace("<", "&lt;")
    .replace(">", "&gt;")
    .replace("\n", "<br />\n"),
    "&nbsp;": OURS.replace(" ", "&nbsp;", 2),
    "a no-break space": OURS.replace(" ", "\u00a0"),
    "CRLF": OURS.replace("\n", "\r\n"),
    "CR": OURS.replace("\n", "\r"),
    "trimmed": OURS.strip(),
    "padded": f"  \n{OURS}\n\t ",
    "whitespace collapsed": " ".join(OURS.split()),
    "NFD": unicodedata.normalize("NFD", OURS),
}


@pytest.mark.parametrize("rewriting", REWRITTEN)
def test_a_reply_rewritten_by_the_marketplace_is_recognised(rewriting: str) -> None:
    assert is_same_text(OURS, REWRITTEN[rewriting], max_length=5_000)


def test_a_literal_entity_in_our_reply_is_recognised_escaped_or_not() -> None:
    ours = "Tapez &amp; dans le champ <br> svp"
    assert is_same_text(ours, ours, max_length=5_000)
    escaped = ours.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert is_same_text(ours, escaped, max_length=5_000)


@pytest.mark.parametrize(
    "listed",
    [
        "Bonjour Mme Dupré, votre colis part lundi & arrive <vite>. Cordialement",
        "Bonjour Mme Dupre,\n\nVotre colis part demain & arrive <vite>.\nCordialement",
        "Bonjour Mme Dupré,",  # the beginning of ours, shorter than the longest reply
        "",
        OURS + " PS: merci",
    ],
)
def test_a_different_text_is_not_our_reply(listed: str) -> None:
    assert not is_same_text(OURS, listed, max_length=5_000)


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
