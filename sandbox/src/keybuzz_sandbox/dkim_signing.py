"""The DKIM-Signature header a mail-relay double puts on the mails its marketplace signs:
one way for every double, relaxed canonicalisation as the marketplaces' mails show it, with
the doubles' own key. That key signs the sandbox's mails and nothing else; it is public in
this repository on purpose (a test's key, never a real sender's): a connector verifies with
its public record (``RECORD``), handed to it by its double's ``service_env``
(its connector's ``<PREFIX>_DKIM_KEYS``), never asked of DNS."""

from __future__ import annotations

from collections.abc import Iterable

import dkim
import msgspec

PRIVATE_KEY = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAtCDfbCmn/XtfOuepv0L7JGa+JV2rjbqhbRAnO7GUxfTym0gF
yovnNtH4WHe1VspPlns7XBegJp8CEted5a5wzQYtd75gjiU1z+8E2PjdjnXSZGST
BJWoA4l8hIZkGpeTEruSp4VW5hC1s8Hi8foyZuYn5X7GvOpceuqyMqwk2r+sOxqj
iOXEjNHnIzRgmq+6gHcm8BVyDId7NgqGQ733VlAPDhW9mDl1er6AFLoSXTjNEEwo
FC4NOOnX7tqf/VqswZwvkbl+4BU29zJ6H7xO2mLsOpr20Y6UXMVT7i1PrZ7mRxoe
nhBJw+BEpXtNcgtgI8ADTyvMsOOjiOxD6szydQIDAQABAoIBAAFox264dbbDPhe/
I8IaE05x2ld+/95cQTKR/4iVR1l0JOjHm7n9tbmlU2jXyOysqQo/nROHoMpkkJbW
pobbQkksXPM0o1tBWcYuc86BxfP9IoAEFG1jAV1DuFxuE77shCtPmeJjJe6nX1CQ
egbUIwxQjSvbvdDREZepmerRE3m9pkm1EsUQClDTorQ8q0Uimd4EOGs9LYRPHKYg
wENyt468xdRSv/XwK0QL+4RQNB0+0nmcf0+mLBbtwDLoEd7zwTZbx7Da5nN4dnfr
0Y64gkomL3sya7zA8yaKQH3SEF4DuDJRKlE+hv79o+qn9husfyRBFUkUNPlS2GkT
F4OBFfECgYEA7j6R6ePhR5DQqK2Ejg8n16DyBl0PtaPzI2UGn2Ca4UG8q6kpUz7S
HXwK7qCvtXOVVsRt+No42WaGW64cj6aDLSDFTt47iF5o3QMl9HzjleGCgGUwwu+u
NNJNnKLFFKgEDjsbVKCRC7bjNcqVdttfWDq4ZPEosyh8lbVjfuJN59ECgYEAwY2E
Hk3dey201yy7bUqQvz3WilCSRvZOt06BpaId90X2laXJ8u4e+QawyljYWPGomCev
SrzmOuLRwpI9HS82RweRVHbJEyd5NPDJAa9LjJVI8/FsO4ip4DuBz3kQBBArxq3T
yOl6oQWOZDTzr5P/oC/QTgdkjji8D/z476w07WUCgYEAkf0XboosPq1XnzUMt/xD
ftdp10ppWPXJBJRgdYM+BPBCS7JR12f0WwrqrAUdBoR4K34coVQfZ+ByTnWnnML9
OMcPAOAe/NZVTbEjLejlkK9qR4E6WwmB525DDsuTFrBKI+pGOhpWJyZ/njOwWO/e
QfNhkMFSHk6d4SMQf+zurjECgYEAj2SxkeXsBTsKdDOes8x/Sj+c9yHUDSCjlqhh
4n0lqDE8CwglgoWpiqLLTU3fEp4OYpNcCYnDI7Mw5e6DumBk3OCdaa8LLtaatH8C
2+2rkf5zas7ceYq5F/feJwAwvmHgnLPhaEKZaDv+jvyv4M9LnbhuobBWbgtYQJwR
LTcuiwUCgYAoUJyQyM1L/CKUNQWlOStj9f17axVdsbug166TC+Kp64yULQa0BeyC
VnZuvDZ285XYd1NxJ2fNw7aHT7r/xzQ/L5KnP/du70D8azr8UlDGuHwlpTEfGptd
OKEfTt2kt3z2Pr0UqyxHuRjzwcdxfsh27bM/elfm2VfGltjX9r3/Vg==
-----END RSA PRIVATE KEY-----
"""

RECORD = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtCDfbCmn/XtfOuepv0L7JGa+JV2rjbqhbRAnO7GUxfTym0gFyovnNtH4WHe1VspPlns7XBegJp8CEted5a5wzQYtd75gjiU1z+8E2PjdjnXSZGSTBJWoA4l8hIZkGpeTEruSp4VW5hC1s8Hi8foyZuYn5X7GvOpceuqyMqwk2r+sOxqjiOXEjNHnIzRgmq+6gHcm8BVyDId7NgqGQ733VlAPDhW9mDl1er6AFLoSXTjNEEwoFC4NOOnX7tqf/VqswZwvkbl+4BU29zJ6H7xO2mLsOpr20Y6UXMVT7i1PrZ7mRxoenhBJw+BEpXtNcgtgI8ADTyvMsOOjiOxD6szydQIDAQAB"


def dkim_signature(
    raw: bytes, selector: str, domain: str, private_key: bytes, fields: Iterable[bytes]
) -> bytes:
    """The DKIM-Signature header of ``raw`` by ``domain`` (its ``selector`` and key),
    covering ``fields``."""
    signature: bytes = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(fields),
    )
    return signature


def published_records(selector: str, domains: Iterable[str]) -> str:
    """The doubles' public record at ``<selector>._domainkey.<domain>`` for each of
    ``domains``, as a connector's ``*_DKIM_KEYS`` setting reads them (JSON)."""
    return msgspec.json.encode({f"{selector}._domainkey.{d}": RECORD for d in domains}).decode()
