"""The faults every shop-API double arms: replies rewritten and dated behind, and the XML
doubles' hostile answers made from their own."""

from __future__ import annotations

import pytest
from keybuzz_sandbox.faults import (
    MISTYPED_TEXT,
    XML_DEEP_NESTING,
    SlowFaultConfig,
    reply_dating,
    reply_shown,
    rewritten,
    xml_huge,
    xml_malform,
)
from lxml import etree

ANSWER = (
    b'<?xml version="1.0" encoding="utf-8"?><messages_query_response xmlns="urn:fnac" '
    b'status="OK"><message><created_at>2026-11-26T10:00:00+01:00</created_at><n>3</n>'
    b"</message><created_at>2026-11-26T09:00:00+01:00</created_at></messages_query_response>"
)


def test_a_rewritten_reply_is_shown_as_some_marketplaces_rewrite_it() -> None:
    """``rewriteReplies``: every rewriting at once, words kept; unarmed, as sent."""
    sent = (
        ' Café & <thé>,  l\'affaire -- "promis"... expédition \U0001f44d\U0001f3fd '
        "\u2764\ufe0f \U0001f600 !\n\nÀ bientôt "
    )
    shown = rewritten(sent)
    assert shown.startswith('<div class="message"><span><p><b>Cafe\u0301</b> &amp;amp; ')
    assert "&amp;lt;the\u0301&amp;gt;,&amp;#8203;" in shown  # escaped twice, NFD, ZWSP
    assert "l&amp;#8217;affaire &amp;#8212; &amp;#8222;promis&amp;#8220;&amp;#8230;" in shown
    assert "expe\u0301&amp;#173;dition" in shown  # a soft hyphen inside a long word
    assert ":thumbsup:" in shown and "\U0001f3fd" not in shown  # short code, no tone
    assert not {"\u2764", "\ufe0f", "\U0001f600"} & set(shown)  # emoji removed
    assert (
        "<br />\r\n" in shown and "</p><p>A\u0300 bientôt</p>".replace("ô", "o\u0302") in shown
    )  # re-wrapped lines, paragraphs
    assert "&amp;#8239;!" in shown  # a narrow no-break space before "!"
    assert reply_shown(SlowFaultConfig(rewrite_replies=True))(sent) == shown
    assert reply_shown(SlowFaultConfig())(sent) == sent


def test_a_reply_behind_is_dated_before_the_real_time_never_after_the_doubles_clock() -> None:
    """``repliesBehindSeconds``: a reply dated that long before the real time, or by the
    double's own clock when that is earlier; unarmed, by the double's clock."""
    behind = reply_dating(SlowFaultConfig(replies_behind_seconds=60), real_now=1_000.0)
    assert behind(5_000.0) == 940.0  # a double's clock ahead of the real time
    assert behind(900.0) == 900.0
    assert reply_dating(SlowFaultConfig(), real_now=1_000.0)(5_000.0) == 5_000.0


def test_a_reply_behind_is_dated_on_the_doubles_own_timeline() -> None:
    """A double whose timeline runs twenty times faster than real time from an anchor
    (``own_clock``): the reply is dated a minute of real time behind on that timeline, so
    that it is shown (back in real time) a minute before it was written, however long the
    sandbox has run; not the real time read as the timeline's (shown near the anchor)."""
    anchor, real_now = 1_000.0, 1_600.0  # a sandbox that has run for ten minutes

    def timeline(real: float) -> float:
        return anchor + (real - anchor) * 20

    def shown(own: float) -> float:  # the timeline's time back in real time
        return anchor + (own - anchor) / 20

    dating = reply_dating(SlowFaultConfig(replies_behind_seconds=60), real_now, timeline)
    assert shown(dating(timeline(real_now))) == real_now - 60


def test_xml_nested_past_the_guarded_parsers_depth_is_taken_in_huge_tree_mode_only() -> None:
    """``deep``: the answer with elements nested inside its root past libxml2's 256 levels,
    within huge-tree mode's 2,048 (a guard in that mode reads it); its root kept."""
    deep = xml_malform(ANSWER, "deep")
    with pytest.raises(etree.XMLSyntaxError, match="depth"):
        etree.fromstring(deep)
    root = etree.fromstring(deep, etree.XMLParser(huge_tree=True))
    assert root.get("status") == "OK" and etree.QName(root).localname == "messages_query_response"
    innermost, depth = root, 0  # the nest comes last in the root
    while len(innermost):
        innermost, depth = innermost[-1], depth + 1
    assert depth == XML_DEEP_NESTING


def test_mistyped_xml_gives_the_named_fields_of_the_named_items_a_word() -> None:
    """``mistyped``: well-formed, each ``item/field`` named a word; any other field as it was."""
    root = etree.fromstring(xml_malform(ANSWER, "mistyped", ("message/created_at",)))
    ns = "{urn:fnac}"
    assert root.findtext(f"{ns}message/{ns}created_at") == MISTYPED_TEXT
    assert root.findtext(f"{ns}message/{ns}n") == "3"
    assert root.findtext(f"{ns}created_at") == "2026-11-26T09:00:00+01:00"


def test_truncated_and_entities_xml_is_no_document_a_guarded_parser_takes() -> None:
    assert xml_malform(ANSWER, "truncated") == ANSWER[: len(ANSWER) // 2]
    laughs = xml_malform(ANSWER, "entities")
    assert b"<!DOCTYPE messages_query_response [" in laughs and b"&l9;" in laughs


async def test_huge_xml_is_the_answer_unclosed_padded_to_the_size_asked() -> None:
    """``huge``: the answer's start, its root never closed, to ``huge_bytes`` exactly."""
    for size in (len(ANSWER), 3 * 2**20 + 7):
        sent = b"".join([chunk async for chunk in xml_huge(ANSWER, size)])
        assert len(sent) == size and sent.startswith(b"<?xml")
        assert b"</messages_query_response>" not in sent
