"""oauth test fixtures."""

from oauth_testkit import (  # noqa: F401 - fixtures
    kit,
    lwa_faults,
    make_kit,
    make_module_kit,
    module_kit,
    module_shop_kit,
    shared_kit,
    shop_kit,
    vault_gate,
)
