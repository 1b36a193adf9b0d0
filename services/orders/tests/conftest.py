"""orders test fixtures."""

import orders_testkit  # noqa: F401 - first: puts the oauth test kit on the path
from oauth_testkit import make_kit  # noqa: F401 - fixture
from orders_testkit import make_orders, orders, orders_nats, sandbox  # noqa: F401 - fixtures
