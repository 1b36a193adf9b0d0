"""The Fnac connector's rule for a reply's text (``reply_text``): what a Fnac message
carries, which is what the double lists back (a message travels in an XML 1.0 document)."""

from __future__ import annotations

import pytest
from keybuzz_connector_fnac.client import xml_text
from keybuzz_connector_fnac.connector import fnac_connector

RULE = fnac_connector("FNAC", "Fnac").shop_api.reply_text


@pytest.mark.parametrize(
    ("given", "carried"),
    [
        ("Bonjour,\x0bc'est parti.", "Bonjour,\nc'est parti."),  # a pasted soft line break
        ("Page 1\x0cPage 2", "Page 1\nPage 2"),
        ("Ding\x07 dong", "Ding dong"),
        ("a\x00b\x1bc\x1fd\ufffee\uffff", "abcde"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("tab\tand\r\nline ends, é, 😀, \u2028 kept", "tab\tand\r\nline ends, é, 😀, \u2028 kept"),
    ],
)
def test_a_reply_keeps_what_fnac_carries_and_only_that(given: str, carried: str) -> None:
    assert RULE(given) == carried
    assert xml_text(RULE(given)) == RULE(given)  # nothing left for the XML layer to replace
    assert RULE(RULE(given)) == RULE(given)  # read back and compared: the same text
