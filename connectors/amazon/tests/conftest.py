"""Amazon's tests through the oauth service (keybuzz_devstack.oauth_testing), as oauth's own
tests start it."""

from keybuzz_devstack.oauth_testing import kit, lwa_faults, make_kit  # noqa: F401 - fixtures
