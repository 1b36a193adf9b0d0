"""The ManoMano connector's tests: its relay's mapping and DKIM checks and its orders'
mapping without a server; its connection, mails, replies and orders through the services
on the session's sandbox (the ManoMano double over HTTP and SMTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from keybuzz_double_manomano import service_env
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture (the double's tests)

served_doubles = serving("manomano")  # the double's own tests on a sandbox of it alone


@pytest.fixture(scope="module", autouse=True)
def double_keys() -> Iterator[None]:
    """The double's DKIM records for what this process verifies, never DNS."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MANOMANO_DKIM_KEYS", service_env("")["MANOMANO_DKIM_KEYS"])
        yield
