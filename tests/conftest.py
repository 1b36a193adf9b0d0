"""Fixtures of the platform tests (the root conftest.py loads the devstack's)."""

from tests.stack_fixture import made_up_stack  # noqa: F401  (session: one `make up` stack)
