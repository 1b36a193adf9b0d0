"""Fixtures for every test in the repository: real NATS, PostgreSQL and OpenBao."""

pytest_plugins = ["keybuzz_devstack.testing", "keybuzz_devstack.time_limit"]
