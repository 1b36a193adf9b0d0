"""oauth test fixtures."""

from oauth_testkit import kit, lwa_faults, make_kit, vault_gate  # noqa: F401 - fixtures
