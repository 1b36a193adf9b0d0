"""Building and reading the double's XML: elements in Fnac's namespace, Fnac's dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from keybuzz_sandbox.clock import parse_iso
from lxml import etree

from .schema import NS, local_name

PARIS = ZoneInfo("Europe/Paris")  # Fnac writes local time with its offset
API_VERSION = "2.6.0"
# The elements holding free text, which Fnac writes in CDATA sections (its recordings).
FREE_TEXT = frozenset(
    {
        "message_id",
        "message_referer",
        "message_from",
        "message_offer_title",
        "message_subject",
        "message_description",
        "answer",
        "name",
        "url",
        "message",
        "client_firstname",
        "client_lastname",
        "client_email",
        "firstname",
        "lastname",
        "address1",
        "zipcode",
        "city",
        "country",
        "product_name",
        "offer_seller_id",
    }
)


def fnac_time(epoch: float) -> str:
    """``2016-08-29T17:53:51+02:00``, as Fnac writes dates."""
    return datetime.fromtimestamp(int(epoch), PARIS).isoformat(timespec="seconds")


def parse_time(text: str) -> float:
    """An xs:dateTime (the schema has checked it) to epoch seconds; no offset: Paris time."""
    return parse_iso(text, PARIS)


def response(service: str, status: str = "OK") -> etree._Element:
    return etree.Element(f"{{{NS}}}{service}_response", {"status": status}, nsmap={None: NS})  # type: ignore[dict-item]


def add(
    parent: etree._Element, tag: str, text: str | int | float | None = None, **attributes: str
) -> etree._Element:
    """A child element; free text (``FREE_TEXT``) goes in CDATA sections, as Fnac writes it."""
    child = etree.SubElement(parent, f"{{{NS}}}{tag}", attributes)
    if text is not None:
        child.text = etree.CDATA(str(text)) if tag in FREE_TEXT and str(text) else str(text)
    return child


def amount(value: float) -> str:
    """Fnac writes amounts without trailing zeros: 20, 10.5, 33.12."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def add_error(parent: etree._Element, code: str, message: str, severity: str = "ERROR") -> None:
    add(parent, "error", message, severity=severity, code=code)


def refusal(service: str, code: str, message: str) -> etree._Element:
    """``service``'s answer refusing the request whole (FATAL) with Fnac's ``code``."""
    answer = response(service, "FATAL")
    add_error(answer, code, message, "FATAL")
    return answer


def add_paging(parent: etree._Element, page: int, per_page: int, total: int) -> None:
    add(parent, "page", page)
    add(parent, "total_paging", -(-total // per_page))
    add(parent, "nb_total_per_page", per_page)
    add(parent, "nb_total_result", total)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def children(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """(local name, element) of the request's children, in order."""
    return [(local_name(c), c) for c in root if isinstance(c.tag, str)]


def text_of(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def child_text(element: etree._Element, name: str) -> str:
    return text_of(element.find(f"{{{NS}}}{name}"))
