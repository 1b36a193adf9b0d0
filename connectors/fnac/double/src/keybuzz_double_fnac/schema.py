"""Fnac's XML: a parser that refuses hostile documents (docs/SANDBOX.md, "Fnac / Darty
double"), and the services' schemas, Fnac's own XSDs (``xsd/``) amended where Fnac's
recorded responses disagree with them (``AMENDMENTS``, each naming its recording)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from lxml import etree

NS = "http://www.fnac.com/schemas/mp-dialog.xsd"
XS = "http://www.w3.org/2001/XMLSchema"
XSD_DIR = Path(__file__).parent / "xsd"
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

# service name (the path after /api.php/ and the request's root element) -> its XSD
SERVICES = {
    "auth": "AuthenticationService.xsd",
    "messages_query": "MessagesQueryService.xsd",
    "messages_update": "MessagesUpdateService.xsd",
    "orders_query": "OrdersQueryService.xsd",
    "incidents_query": "IncidentsQueryService.xsd",
}


class XmlRefused(ValueError):
    """Not a document the API accepts: not XML, too large, a DTD, or off its schema."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


_PARSER = _parser()
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def parse(document: bytes) -> etree._Element:
    """The document's root element; XmlRefused for anything but plain XML."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise XmlRefused(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    if not document.strip():
        raise XmlRefused("empty document")
    # Before libxml2 sees it: even with these options it reads a file a parameter entity names.
    if _DOCTYPE.search(document):
        raise XmlRefused("documents with a DOCTYPE (DTD, entities) are refused unread")
    try:
        root = etree.fromstring(document, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc}") from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:  # type: ignore[union-attr]
        raise XmlRefused("documents with a DOCTYPE (DTD, entities) are refused")
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def service_of(root: etree._Element) -> str | None:
    """The service a request or response belongs to, from its root element."""
    name = local_name(root).removesuffix("_response")
    return name if name in SERVICES else None


# --- amendments: the recorded responses win over the XSD -------------------------


def _xs(tag: str) -> str:
    return f"{{{XS}}}{tag}"


def _named(doc: etree._ElementTree, kind: str, name: str) -> etree._Element:
    found = doc.getroot().find(f"{_xs(kind)}[@name='{name}']")
    assert found is not None, f"{kind} {name} is not in the schema"
    return found


def _element(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(f".//{_xs('element')}[@name='{name}']")
    assert found is not None, f"element {name} is not in the schema"
    return found


def _messages_query_paging(doc: etree._ElementTree) -> None:
    """captured/query_messages_response.xml: page, total_paging, nb_total_per_page and
    nb_total_result, without messages_unread_result / messages_read_result."""
    response = _named(doc, "complexType", "message_query_response")
    for name in ("messages_unread_result", "messages_read_result"):
        _element(response, name).set("minOccurs", "0")
    total_paging = _element(response, "total_paging")
    per_page = etree.Element(
        _xs("element"), name="nb_total_per_page", type="xs:int", minOccurs="0", maxOccurs="1"
    )
    total_paging.addnext(per_page)


def _incident_details_repeat(doc: etree._ElementTree) -> None:
    """captured/query_incidents_response.xml: one order_detail_incident per order line
    (the XSD allows one)."""
    details = _named(doc, "complexType", "incident_order_details_response")
    group = details.find(_xs("all"))
    assert group is not None
    group.tag = _xs("sequence")
    _element(group, "order_detail_incident").set("maxOccurs", "unbounded")


AMENDMENTS: dict[str, list[Callable[[etree._ElementTree], None]]] = {
    "messages_query": [_messages_query_paging],
    "incidents_query": [_incident_details_repeat],
}


def schema_document(service: str, amended: bool = True) -> etree._ElementTree:
    """The service's XSD as a tree (base URL set, so its includes resolve)."""
    doc = etree.parse(str(XSD_DIR / SERVICES[service]), _parser())
    if amended:
        for amend in AMENDMENTS.get(service, []):
            amend(doc)
    return doc


@cache
def schema(service: str) -> etree.XMLSchema:
    return etree.XMLSchema(schema_document(service))


def schema_errors(root: etree._Element) -> list[str]:
    """What makes a request or response break its service's (amended) schema."""
    service = service_of(root)
    if service is None:
        return [f"{local_name(root)} is not a request or response of {sorted(SERVICES)}"]
    checker = schema(service)
    if checker.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]  # type: ignore[attr-defined]


def validated(document: bytes) -> etree._Element:
    """parse() and schema_errors() together: the root of a valid document, else XmlRefused."""
    root = parse(document)
    if errors := schema_errors(root):
        raise XmlRefused("; ".join(errors))
    return root
