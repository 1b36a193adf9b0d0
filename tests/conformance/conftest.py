"""The conformance suite's fixtures (harness.py): a sandbox, oauth and a poller per module."""

from tests.conformance.harness import conformance, conformance_sandbox  # noqa: F401
