"""The faults every shop-API double arms: replies rewritten and dated behind."""

from __future__ import annotations

from keybuzz_sandbox.faults import SlowFaultConfig, reply_dating, reply_shown, rewritten


def test_a_rewritten_reply_is_shown_as_some_marketplaces_rewrite_it() -> None:
    """``rewriteReplies``: trimmed, HTML-escaped, a run of spaces with ``&nbsp;``, line breaks
    as ``<br />`` and CRLF, accents decomposed; unarmed, the reply is shown as sent."""
    sent = " Café & <thé>,  merci.\nÀ bientôt "
    shown = rewritten(sent)
    assert shown == (
        "Cafe\u0301 &amp; &lt;the\u0301&gt;,&nbsp; merci.<br />\r\nA\u0300 bientôt".replace(
            "ô", "o\u0302"
        )
    )
    assert reply_shown(SlowFaultConfig(rewrite_replies=True))(sent) == shown
    assert reply_shown(SlowFaultConfig())(sent) == sent


def test_a_reply_behind_is_dated_before_the_real_time_never_after_the_doubles_clock() -> None:
    """``repliesBehindSeconds``: a reply dated that long before the real time, or by the
    double's own clock when that is earlier; unarmed, by the double's clock."""
    behind = reply_dating(SlowFaultConfig(replies_behind_seconds=60), real_now=1_000.0)
    assert behind(5_000.0) == 940.0  # a double's clock ahead of the real time
    assert behind(900.0) == 900.0
    assert reply_dating(SlowFaultConfig(), real_now=1_000.0)(5_000.0) == 5_000.0
