"""The parser gives the RelayMail recorded in mails/golden.json for every test mail.

golden.json is what the stdlib's ``policy.default`` parser made of them (mail_golden.py).
A field that differs on purpose is listed in CHOSEN_DIFFERENCES with why (and in
docs/POLLER.md, "Parsing"): it is left out of the comparison for that mail only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mail_golden import load_golden, mail_files, mail_name, parsed

GOLDEN = load_golden()

# mail → field → why the new parser's value is the right one (each has its own test).
CHOSEN_DIFFERENCES: dict[str, dict[str, str]] = {
    "relay/bounce-amazon-dsn.eml": {
        "message_id": "kept as written: policy.default cut the malformed <a@b@c> to <a@b>",
        "external_id": "the Message-ID, so the same reason",
    },
    "relay/rfc2047-edge-cases.eml": {
        "subject": "an iso-8859-1 RFC 2047 word is read as windows-1252, like bodies (0x80 is €)",
    },
}
# field → where it is tested: RelayMail fields the recording predates (absent from it).
FIELDS_AFTER_THE_RECORDING: dict[str, str] = {
    "automatic": "test_relay_mail.py (auto-replies, reports, notifications)",
    "from_address": "test_relay_mail.py (fields a mail carries twice)",
    "field_counts": "test_relay_mail.py (fields a mail carries twice)",
}


def _without_chosen_differences(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    chosen = CHOSEN_DIFFERENCES.get(name, {}).keys() | FIELDS_AFTER_THE_RECORDING.keys()
    return {field: value for field, value in fields.items() if field not in chosen}


@pytest.mark.parametrize("path", mail_files(), ids=mail_name)
def test_the_parser_gives_the_recorded_relay_mail(path: Path) -> None:
    name = mail_name(path)
    assert name in GOLDEN, f"{name} is not recorded: run mail_golden.py {path.name}"
    assert _without_chosen_differences(name, parsed(path)) == _without_chosen_differences(
        name, GOLDEN[name]
    )


def test_every_chosen_difference_names_a_recorded_mail_and_field() -> None:
    for name, fields in CHOSEN_DIFFERENCES.items():
        assert name in GOLDEN
        assert set(fields) <= set(GOLDEN[name]), name


def test_the_golden_file_covers_the_relay_mails_and_the_corpus() -> None:
    names = {mail_name(p) for p in mail_files()}
    assert names == set(GOLDEN)
    assert sum(n.startswith("relay/") for n in names) >= 30
    assert sum(n.startswith("corpus/") for n in names) >= 20
