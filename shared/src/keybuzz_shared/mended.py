"""A marketplace's answer whose text holds characters that cannot be read, mended so that
they cost the item holding them, never the page: every JSON and XML answer a connector
reads passes here (``json_decoded``: the requester, the JSON client and each item of a
page kept raw; ``xml_mended``: the kit's XML guard).

The rule is the format's, not a list of the bytes seen: in JSON, bytes that are not UTF-8
and escapes of a lone surrogate (``\\udcff``, which no UTF-8 text and no PostgreSQL text
holds); in XML, bytes that are not the answer's encoding and any character, raw or as a
character reference (``&#0;``, ``&#xFFFE;``, ``&#xD800;``), outside XML 1.0's ``Char``.
Each becomes U+FFFD (``REPLACED``): the item is read and stored with it, and the poller
flags a message holding it (``tickets/received.py``). An answer is mended only once the
strict decoder refused it; one that stays unreadable mended fails as it did."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar, overload

import msgspec

T = TypeVar("T")
REPLACED = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# What XML 1.0 allows (its ``Char`` production): tab, LF, CR and the planes but for the
# surrogates, U+FFFE and U+FFFF. Anything else is not a character of a document.
NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CHAR_REFERENCE = re.compile(r"&#(?:x([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


@overload
def json_decoded(content: bytes | msgspec.Raw) -> Any: ...


@overload
def json_decoded(content: bytes | msgspec.Raw, shape: type[T]) -> T: ...


def json_decoded(content: bytes | msgspec.Raw, shape: Any = None) -> Any:
    """``content`` decoded (into ``shape`` when given) by msgspec; when its text holds
    characters that cannot be read, the answer with each one ``REPLACED``. An answer off
    ``shape`` raises ``msgspec.ValidationError``, one not JSON even mended
    ``msgspec.DecodeError`` (bytes that are not UTF-8 included), as msgspec raises them."""
    try:
        return msgspec.json.decode(content, type=shape) if shape else msgspec.json.decode(content)
    except msgspec.ValidationError:
        raise
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        mended = _json_mended(content)
        if mended is None:
            raise msgspec.DecodeError(f"not JSON: {str(exc)[:120]}") from None
    return msgspec.json.decode(mended, type=shape) if shape else msgspec.json.decode(mended)


def _json_mended(content: bytes | msgspec.Raw) -> bytes | None:
    """``content`` read leniently (bytes that are not UTF-8 replaced, lone surrogates
    kept), each lone surrogate then replaced, as JSON again; None when it is not JSON.
    Numbers keep their text (no float or integer limit of Python's between)."""
    try:
        value = json.loads(
            bytes(content).decode("utf-8", "replace"),  # a raw item too
            parse_int=_number,
            parse_float=_number,
            parse_constant=_refused,
        )
        return msgspec.json.encode(_replaced(value))
    except (ValueError, RecursionError, msgspec.EncodeError):
        return None


def _number(text: str) -> msgspec.Raw:
    return msgspec.Raw(text.encode())


def _refused(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACED, value)
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    if isinstance(value, dict):
        return {_replaced(k): _replaced(v) for k, v in value.items()}
    return value


def xml_mended(data: bytes, encoding: str) -> bytes:
    """``data`` (in ``encoding``) with each byte that is not of it and each character, raw
    or referenced, that XML does not allow ``REPLACED`` (``&#xFFFD;`` where the encoding
    has no U+FFFD); its markup untouched."""
    text = data.decode(encoding, "replace")
    text = _CHAR_REFERENCE.sub(_allowed_reference, NOT_XML_CHARS.sub(REPLACED, text))
    return text.encode(encoding, "xmlcharrefreplace")


def _allowed_reference(match: re.Match[str]) -> str:
    hexadecimal, decimal = match.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if code <= 0x10FFFF and not NOT_XML_CHARS.match(chr(code)):
        return match.group(0)
    return "&#xFFFD;"
