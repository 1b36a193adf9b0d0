"""orders test fixtures."""

from keybuzz_devstack.oauth_testing import make_module_kit  # noqa: F401 - fixture
from keybuzz_devstack.orders_testing import (  # noqa: F401 - fixtures
    make_module_orders,
    make_orders,
    module_oauth,
    orders_nats,
    orders_oauth,
)
from orders_testkit import backfilled, module_orders, orders, sandbox  # noqa: F401 - fixtures
