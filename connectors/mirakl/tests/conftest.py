"""The Mirakl connector's tests; the double's own on a sandbox of their own (``serve``)."""

from keybuzz_sandbox.fixtures import serve  # noqa: F401 - fixture
