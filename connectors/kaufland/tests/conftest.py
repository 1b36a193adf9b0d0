"""The Kaufland connector's tests: its rules without servers, and its client and double on
a sandbox of their own (``serve``)."""

from __future__ import annotations

from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture (the double's tests)

served_doubles = serving("kaufland")  # the double's own tests on a sandbox of it alone
