"""oauth test fixtures."""

from oauth_testkit import kit, make_kit  # noqa: F401 - fixtures
