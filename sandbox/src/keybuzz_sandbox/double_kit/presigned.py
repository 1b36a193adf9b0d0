"""Download URLs as S3 pre-signs them (AWS SigV4, valid from ``X-Amz-Date`` for
``X-Amz-Expires`` seconds), checked when fetched, with S3's XML errors."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from litestar import Response

from keybuzz_sandbox.clock import iso

SIGNED = ("X-Amz-Algorithm", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature")
INCOMPLETE = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
ALTERED = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def s3_error(status: int, code: str, message: str, **extra: str) -> Response[bytes]:
    """S3's XML error document, as a pre-signed URL answers."""
    root = ET.Element("Error")
    for tag, text in {"Code": code, "Message": message, **extra}.items():
        ET.SubElement(root, tag).text = text
    ET.SubElement(root, "RequestId").text = uuid.uuid4().hex[:16].upper()
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    return Response(body, status_code=status, media_type="application/xml")


def _millis(ts: float) -> str:
    return iso(ts).replace("Z", ".000Z")


class Presigner:
    """Pre-signed URLs of a double's files: signed by ``mac`` (the double's secret), under
    a ``credential`` access key of ``region``'s S3."""

    def __init__(self, mac: Callable[[str], str], credential: str, region: str) -> None:
        self.mac, self.credential, self.region = mac, credential, region

    def _signature(self, key: str, amz_date: str, expires: str) -> str:
        return hashlib.sha256(self.mac(f"{key}|{amz_date}|{expires}").encode()).hexdigest()

    def query(self, key: str, now: float, expires: int) -> str:
        """The query of the file ``key``'s URL signed at ``now``, valid ``expires`` seconds."""
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        scope = f"{amz_date[:8]}/{self.region}/s3/aws4_request"
        return urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Date": amz_date,
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Expires": expires,
                "X-Amz-Credential": f"{self.credential}/{scope}",
                "X-Amz-Signature": self._signature(key, amz_date, str(expires)),
            }
        )

    def refusal(self, key: str, query: Mapping[str, str], now: float) -> Response[bytes] | None:
        """S3's refusal of the URL of ``key`` with ``query`` at ``now``; None when it holds."""
        if any(not query.get(name) for name in SIGNED):
            return s3_error(403, "AccessDenied", INCOMPLETE)
        amz_date, expires = query["X-Amz-Date"], query["X-Amz-Expires"]
        expected = self._signature(key, amz_date, expires)
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            return s3_error(403, "SignatureDoesNotMatch", ALTERED)
        ends = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) + int(expires)
        if now > ends:
            extra = {"X-Amz-Expires": expires, "Expires": _millis(ends), "ServerTime": _millis(now)}
            return s3_error(403, "AccessDenied", "Request has expired", **extra)
        return None
