"""Fnac's and Darty's orders through the orders service: oauth and orders on a NATS of
their own, as the orders service's own tests start them (keybuzz_devstack.orders_testing)."""

from keybuzz_devstack.oauth_testing import make_kit  # noqa: F401 - fixture (make_orders's oauth)
from keybuzz_devstack.orders_testing import make_orders, orders_nats  # noqa: F401 - fixtures
