"""The ports the tests' servers get (``infra.free_port``): below the kernel's ephemeral range,
so no outgoing connection takes one between its pick and its server's bind, and in a slice
of each pytest-xdist worker's own, so two workers never pick alike."""

from __future__ import annotations

import socket

import pytest
from keybuzz_devstack import infra


def _ephemeral_start() -> int:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        return int(ranges.read().split()[0])


def test_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    ports = [infra.free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(10_000 <= port < _ephemeral_start() for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # free indeed


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    port = infra.free_port()
    monkeypatch.setattr(infra, "_next_port", port)  # the next pick would be the same port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert infra.free_port() != port


@pytest.mark.parametrize("worker", ["gw0", "gw1", "gw4"])
def test_each_worker_has_a_slice_of_its_own(monkeypatch: pytest.MonkeyPatch, worker: str) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    mine = infra._slice()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    other = infra._slice()
    assert mine[1] <= other[0] or other[1] <= mine[0]  # no port in common
    monkeypatch.setattr(infra, "_next_port", None)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert mine[0] <= infra.free_port() < mine[1]
