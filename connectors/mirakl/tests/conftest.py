"""The Mirakl connector's tests; the double's own on a sandbox of their own (``serve``)."""

from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture

served_doubles = serving("mirakl")  # the double's own tests on a sandbox of it alone
