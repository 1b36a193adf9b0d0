"""A marketplace's XML answer parsed so that no entity is ever declared, expanded or
fetched, by three locks: a document in another encoding than the ones the marketplace
answers in is refused unread, and the parser reads every document in the first of them
whatever its declaration says (a DTD written in UTF-7 stays text, and so not well-formed);
a DTD in the prolog is refused before libxml2 sees it; and the parsed document is checked
again: no document type declaration, no entity reference left (the parser resolves none).
The parser (lxml) also runs with DTD loading, network and huge-tree mode off, and the
answer's size is bounded before parsing. lxml was chosen by measurement: 4-5x faster
than defusedxml (docs/BENCHMARKS.md)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from lxml import etree

Element = etree._Element

# What may stand before the root element: a UTF-8 byte order mark, white space, the XML
# declaration, processing instructions and comments. A "<!" after them opens a DTD.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
# The encoding the XML declaration names, if it names one.
_DECLARED_ENCODING = re.compile(
    rb"(?:\xef\xbb\xbf)?<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']", re.DOTALL
)
# Byte order marks and first bytes of the encodings other than UTF-8 (UTF-16/32, EBCDIC,
# UTF-7): such a document could spell "<!DOCTYPE" without those bytes.
_OTHER_ENCODINGS = (b"\xfe\xff", b"\xff\xfe", b"\x00", b"\x4c\x6f\xa7\x94", b"\x2b\x2f\x76")


@functools.cache
def _parser(encoding: str) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,  # over the document's declaration
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


PARSER = _parser("utf-8")


def short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse_guarded(
    data: bytes,
    refused: Callable[[str], Exception],
    *,
    max_bytes: int,
    answers_in: str = "UTF-8",
) -> Element:
    """The root element of ``data``; ``refused(reason)`` raised for anything else: larger
    than ``max_bytes``, empty, in an encoding other than ``answers_in`` (the one the
    marketplace answers in), a DTD or an entity reference, not well-formed."""
    if len(data) > max_bytes:
        raise refused(f"response larger than {max_bytes} bytes")
    if not data.strip():
        raise refused("empty response")
    said = f"(the marketplace answers in {answers_in})"
    if data.startswith(_OTHER_ENCODINGS) or data[1:2] == b"\x00":
        raise refused(f"not {answers_in} {said}")
    declared = _DECLARED_ENCODING.match(data[:256])
    if declared:
        named = declared.group(1).decode("ascii", "replace")
        if named.lower() != answers_in.lower():
            raise refused(f"declared encoding {short(named, 40)!r} is not {answers_in} {said}")
    prolog = _PROLOG.match(data)
    if data.startswith(b"<!", prolog.end() if prolog else 0):
        raise refused("the response carries a DTD (refused unread)")
    try:
        root = etree.fromstring(data, _parser(answers_in.lower()))
    except etree.XMLSyntaxError as exc:
        raise refused(f"not well-formed XML ({short(str(exc))})") from None
    except (ValueError, etree.LxmlError) as exc:
        raise refused(f"not XML ({type(exc).__name__})") from None
    refuse_parsed(root, refused)
    return root


def refuse_parsed(root: Element, refused: Callable[[str], Exception]) -> None:
    """The same guarantee on what libxml2 read, not on the bytes: no document type
    declaration, and no entity reference (unresolved, so never expanded) anywhere."""
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise refused("the response carries a DTD (refused after parsing)")
    if next(root.iter(etree.Entity), None) is not None:
        raise refused("the response holds an entity reference (refused unexpanded)")


def garbled(reason: str) -> bool:
    """Whether ``parse_guarded``'s reason is an answer cut short or not XML at all (a
    server failing mid-answer, worth another try); a DTD, an encoding or a size is not."""
    return reason.startswith(("not well-formed", "not XML", "empty response"))
