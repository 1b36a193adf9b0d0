"""One verifying TLS context per trust, shared by a process's HTTP clients.

httpx builds a context for each client it is not given one, parsing the CA bundle again
(~20 ms of CPU a client): the services make clients per marketplace, per flow and per
Vault, and the tests hundreds. A context is never changed once made, so one per trust
serves every HTTP client of the process (httpcore sets the same ALPN on it for each
connection: NATS and SMTP keep contexts of their own).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verifying(cafile: str | None = None) -> ssl.SSLContext:
    """Certificates and host names verified, always: against ``cafile`` when given (a
    private CA), else against the CAs httpx trusts by default (``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR`` when set, else certifi's)."""
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    return httpx.create_ssl_context()
