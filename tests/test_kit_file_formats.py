"""A reply's files named by an extension (``connectors/cdiscount/src/keybuzz_connector_cdiscount/file_formats.py``), without servers: a
file's format is its name's extension where the marketplace names it, else its media
type's; a file of neither, or too many or too large, is refused naming the rule."""

from __future__ import annotations

from keybuzz_connector_cdiscount.discussions import FileFormats
from keybuzz_shared.connectors.seam import Limits, ReplyFile

FORMATS = FileFormats({"image/jpeg": "jpg", "application/pdf": "pdf"}, also=("jpeg",))
LIMITS = Limits(
    max_attachments=2,
    max_attachment_bytes=100,
    max_text_length=1000,
    page_size=10,
    attachment_formats=FORMATS.media_types,
)


def file(name: str, content_type: str, size: int = 10) -> ReplyFile:
    return ReplyFile(name=name, content_type=content_type, data=b"x" * size)


def test_the_media_types_taken_are_those_named() -> None:
    assert FORMATS.media_types == ("image/jpeg", "application/pdf")


def test_a_files_format_is_its_named_extension_else_its_media_types() -> None:
    assert FORMATS.of(file("scan.JPEG", "image/jpeg")) == "jpeg"  # named beside jpg
    assert FORMATS.of(file("scan.jpg", "application/pdf")) == "jpg"  # the name decides
    assert FORMATS.of(file("devis", " Application/PDF ")) == "pdf"
    assert FORMATS.of(file("devis.docx", "application/pdf")) == "pdf"
    assert FORMATS.of(file("notes.txt", "text/plain")) is None


def test_files_the_marketplace_takes_pass() -> None:
    assert FORMATS.refused(LIMITS, (file("a.pdf", "application/pdf"),) * 2, "Shop") is None


def test_a_file_of_no_format_named_is_refused_naming_those_taken() -> None:
    refused = FORMATS.refused(LIMITS, (file("notes.txt", "text/plain"),), "Shop")
    assert refused == "notes.txt: Shop takes only jpeg, jpg, pdf files"


def test_too_many_or_too_large_files_are_refused_by_the_limits() -> None:
    many = FORMATS.refused(LIMITS, (file("a.pdf", "application/pdf"),) * 3, "Shop")
    assert many == "Shop takes at most 2 files a reply"
    large = FORMATS.refused(LIMITS, (file("a.pdf", "application/pdf", 101),), "Shop")
    assert large is not None and "at most" in large
