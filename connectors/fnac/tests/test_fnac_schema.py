"""Fnac's schemas as the double uses them: the recorded responses (fnac_captured/, MIT)
validate against the amended XSDs, and each amendment is needed by one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from keybuzz_double_fnac.schema import (
    AMENDMENTS,
    XmlRefused,
    parse,
    schema_document,
    schema_errors,
    service_of,
)
from lxml import etree

CAPTURED = Path(__file__).parent / "fnac_captured"
# Fnac's recorded answers of the services the double serves (the folder also holds the
# requests the connector's tests read, an empty answer, and an incidents_update answer).
RECORDINGS = [
    p
    for p in sorted(CAPTURED.glob("*_response.xml"))
    if p.stat().st_size and service_of(parse(p.read_bytes()))
]


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.stem)
def test_recorded_responses_validate(recording: Path) -> None:
    assert schema_errors(parse(recording.read_bytes())) == []


@pytest.mark.parametrize("service", sorted(AMENDMENTS))
def test_each_amendment_is_what_a_recording_needs(service: str) -> None:
    unamended = etree.XMLSchema(schema_document(service, amended=False))
    recorded = [root for p in RECORDINGS if service_of(root := parse(p.read_bytes())) == service]
    assert recorded and not all(unamended.validate(root) for root in recorded)


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<auth_response status='OK'>&b;</auth_response>",
        b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>',
        b"",
        b"<unclosed>",
        b"<a>" + b"x" * (6 * 1024 * 1024) + b"</a>",
    ],
    ids=["entities", "external-dtd", "empty", "not-well-formed", "too-large"],
)
def test_hostile_or_broken_documents_are_refused(document: bytes) -> None:
    with pytest.raises(XmlRefused):
        parse(document)


def test_a_parameter_entity_naming_a_local_file_is_refused_before_parsing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leaked "host secret">')
    document = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><x>&leaked;</x>'.encode()
    with pytest.raises(XmlRefused, match="refused unread"):
        parse(document)
