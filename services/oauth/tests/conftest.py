"""oauth test fixtures."""

from oauth_testkit import (  # noqa: F401 - fixtures
    fresh_kit,
    kit,
    lwa_faults,
    make_kit,
    make_module_kit,
    module_kit,
    vault_gate,
)
