"""Choosing the XML and schema libraries for Fnac's API: parse and validate a page of
100 messages (a messages_query_response of the double's "KeyBuzz Librairie Fnac"
shop, about 90 KB), and check each parser on hostile documents.

Parsers: the stdlib's ``xml.etree.ElementTree`` (the baseline: fast, but it accepts
DTDs), ``defusedxml.ElementTree`` (the stdlib behind a refusal of DTDs and entities),
lxml with the sandbox's hardened parser (``keybuzz_double_fnac.schema.parse``:
entities unresolved, no DTD loading, no network, any DOCTYPE refused), and the connector's
own (``keybuzz_connector_fnac.xml.parse``: UTF-8 only, read as UTF-8, a DTD refused
before and after parsing). Schema
validation of the parsed page: lxml's ``XMLSchema`` (libxml2) and the pure-Python
``xmlschema``, on the same amended XSD. Each figure is the mean per page over
``ROUNDS`` passes, best of 5 batches (the machine is shared).

The safety column says what each parser does with a "billion laughs" document
(entities nested 9 deep), with an external entity naming a local file and with an internal
entity whose DTD is written in UTF-7 under a declaration naming it.

No server is used. Run by hand: ``.venv/bin/python -m bench bench_fnac_xml``
(``BENCH_FNAC_XML_ROUNDS``, default 200).
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as StdlibTree
from collections.abc import Callable
from typing import Any

import defusedxml.ElementTree as DefusedTree
import xmlschema
from keybuzz_connector_fnac import client as connector_xml
from keybuzz_double_fnac import FnacDoubleSettings, schema
from keybuzz_double_fnac.double import FnacDouble
from keybuzz_double_fnac.services import answered
from keybuzz_double_fnac.shops import default_shops
from keybuzz_double_fnac.wire import serialize
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.sandbox import Sandbox
from lxml import etree

from bench.harness import BenchContext, Figure

ROUNDS = int(os.environ.get("BENCH_FNAC_XML_ROUNDS", "200"))
BATCHES = 5
SHOP = "KeyBuzz Librairie Fnac"
BASELINE = "parse: xml.etree.ElementTree (stdlib)"

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY l0 "lol">'
    + b"".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">'.encode() for n in range(1, 10))
    + b"]><m>&l9;</m>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/hostname">]><m>&e;</m>'
)
UTF7 = (
    b'<?xml version="1.0" encoding="UTF-7"?>'
    b"+ADw-+ACE-DOCTYPE m +AFs-+ADw-+ACE-ENTITY e +ACI-expanded+ACI-+AD4-+AF0-+AD4-"
    b'<m xmlns="' + schema.NS.encode() + b'">&e;</m>'
)


def _page() -> bytes:
    config = SandboxConfig()
    sandbox = Sandbox(config)
    shops = default_shops(config.of(FnacDoubleSettings).bench_orders, 0)
    fnac = FnacDouble(config.seed, shops, sandbox.clock, sandbox.state)
    book = next(b for b in fnac.books.values() if b.gen.spec.name == SHOP)
    request = etree.fromstring(
        f'<messages_query xmlns="{schema.NS}" partner_id="{book.credentials.partner_id}" '
        f'shop_id="{book.shop_id}" results_count="100"><paging>1</paging></messages_query>'
    )
    page = serialize(answered("messages_query", book, request, sandbox.clock.now()))
    assert page.count(b"<message ") == 100
    return page


def _best_mean(calls: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Mean µs per call over ROUNDS, best of BATCHES batches taken in turns."""
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()  # warm up
    for _ in range(BATCHES):
        for name, call in calls.items():
            started = time.perf_counter()
            for _ in range(ROUNDS):
                call()
            best[name] = min(best[name], (time.perf_counter() - started) / ROUNDS * 1e6)
    return best


def _safety(parse: Callable[[bytes], Any]) -> str:
    verdicts = []
    for label, document in (
        ("billion laughs", BOMB),
        ("external entity", EXTERNAL),
        ("UTF-7 DTD", UTF7),
    ):
        try:
            parsed = parse(document)
        except Exception as exc:  # each library refuses in its own way
            verdicts.append(f"{label}: refused ({type(exc).__name__})")
            continue
        text = "".join(parsed.itertext()) if hasattr(parsed, "itertext") else ""
        verdicts.append(f"{label}: {'EXPANDED' if text else 'parsed, not expanded'}")
    return "; ".join(verdicts)


async def run(ctx: BenchContext) -> list[Figure]:
    page = _page()
    parsers: dict[str, Callable[[bytes], Any]] = {
        BASELINE: StdlibTree.fromstring,
        "parse: defusedxml.ElementTree": DefusedTree.fromstring,
        "parse: lxml, hardened (schema.parse)": schema.parse,
        "parse: lxml, the connector's (fnac client.parse)": connector_xml.parse,
    }
    costs = _best_mean({name: (lambda p=p: p(page)) for name, p in parsers.items()})
    figures: list[Figure] = [
        {
            "name": name,
            "value": costs[name],
            "unit": "µs/page",
            "baseline": costs[BASELINE],
            "note": _safety(parse),
        }
        for name, parse in parsers.items()
    ]
    root = schema.parse(page)
    lxml_schema = schema.schema("messages_query")
    amended = etree.tostring(schema.schema_document("messages_query")).decode()
    pure = xmlschema.XMLSchema(amended, base_url=str(schema.XSD_DIR))
    assert lxml_schema.validate(root) and pure.is_valid(page.decode())
    text = page.decode()
    validation = _best_mean(
        {
            "validate: lxml XMLSchema (parsed page)": lambda: lxml_schema.validate(root),
            "validate: xmlschema (pure Python)": lambda: pure.is_valid(text),
        }
    )
    figures += [
        {
            "name": name,
            "value": cost,
            "unit": "µs/page",
            "baseline": costs[BASELINE],
            "note": f"{len(page):,} bytes, 100 messages; {ROUNDS} rounds, best of {BATCHES}",
        }
        for name, cost in validation.items()
    ]
    return figures
