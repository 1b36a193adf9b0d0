"""A reply's files named by an extension (Cdiscount's ``fileFormat``,
``connectors/cdiscount/src/keybuzz_connector_cdiscount/discussions.py``), without servers: a
file's format is its name's extension where the marketplace names it, else its media
type's; a file of neither, or too many or too large, is refused naming the rule."""

from __future__ import annotations

from keybuzz_connector_cdiscount.discussions import (
    EXTENSIONS,
    LIMITS,
    file_format,
    unsendable_files,
)
from keybuzz_shared.connectors.seam import ReplyFile


def file(name: str, content_type: str, size: int = 10) -> ReplyFile:
    return ReplyFile(name=name, content_type=content_type, data=b"x" * size)


def test_the_media_types_taken_are_those_named() -> None:
    assert LIMITS.attachment_formats == tuple(EXTENSIONS)
    assert {"image/jpeg", "application/pdf"} <= set(LIMITS.attachment_formats)


def test_a_files_format_is_its_named_extension_else_its_media_types() -> None:
    assert file_format(file("scan.JPEG", "image/jpeg")) == "jpeg"  # named beside jpg
    assert file_format(file("scan.jpg", "application/pdf")) == "jpg"  # the name decides
    assert file_format(file("devis", " Application/PDF ")) == "pdf"
    assert file_format(file("devis.zzz", "application/pdf")) == "pdf"
    assert file_format(file("notes.txt", "text/plain")) is None


def test_files_the_marketplace_takes_pass() -> None:
    assert unsendable_files((file("a.pdf", "application/pdf"),) * 3) is None


def test_a_file_of_no_format_named_is_refused_naming_those_taken() -> None:
    refused = unsendable_files((file("notes.txt", "text/plain"),))
    assert refused is not None and refused.startswith("notes.txt: Cdiscount takes only ")
    assert "jpeg, jpg, pdf" in refused


def test_too_many_or_too_large_files_are_refused_by_the_limits() -> None:
    many = unsendable_files((file("a.pdf", "application/pdf"),) * 4)
    assert many == "Cdiscount takes at most 3 files a reply"
    large = unsendable_files((file("a.pdf", "application/pdf", LIMITS.max_attachment_bytes + 1),))
    assert large is not None and "at most" in large
