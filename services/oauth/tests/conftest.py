"""oauth test fixtures."""

from oauth_testkit import kit, lwa_faults, make_kit  # noqa: F401 - fixtures
