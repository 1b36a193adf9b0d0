"""orders test fixtures."""

from keybuzz_devstack.oauth_testing import make_kit  # noqa: F401 - fixture (make_orders's oauth)
from keybuzz_devstack.orders_testing import make_orders, orders_nats  # noqa: F401 - fixtures
from orders_testkit import orders, sandbox  # noqa: F401 - fixtures
