"""The ports the tests' servers get (``infra.free_port``): below the kernel's ephemeral range,
so no outgoing connection takes one between its pick and its server's bind, and in a slice
of each pytest-xdist worker's own, so two workers never pick alike, each claimed
machine-wide by the process it was handed to, so two runs side by side never do either. The development stack's
fixed ports (``stack.DEFAULT_PORTS``, at an offset) are claimed machine-wide by the test
that starts a stack on them (``testing.stack_ports_claimed``), so two sessions' stack tests
never start on the same ones."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from keybuzz_devstack import infra, testing

from tests import stack_fixture


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


def test_a_port_another_process_claimed_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two test runs side by side have the same slices: a port handed out to one process is
    skipped by every other, bound or not yet."""
    claim = "from keybuzz_devstack import infra; print(infra.free_port(), flush=True); input()"
    with subprocess.Popen(
        [sys.executable, "-c", claim], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as other:
        assert other.stdin and other.stdout
        theirs = int(other.stdout.readline())  # handed out, not bound
        monkeypatch.setattr(infra, "_next_port", theirs)
        assert infra._bindable(theirs) and infra.free_port() != theirs
        other.stdin.write("\n")
        other.stdin.flush()
    mine = infra.free_port()
    monkeypatch.setattr(infra, "_next_port", mine)
    assert infra.free_port() == mine  # its own claim stays its own


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


HOLDER = """
import sys
from pathlib import Path
from keybuzz_devstack import testing
testing.STACK_PORT_CLAIMS = Path(sys.argv[1])
with testing.stack_ports_claimed(int(sys.argv[2])) as claimed:
    print(claimed, flush=True)
    sys.stdin.read()  # held until the test closes our stdin
"""


def claim_in_another_process(claims: Path, offset: int) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(claims), str(offset)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "True\n"
    return holder


def test_a_stacks_ports_claimed_by_another_process_are_had_once_it_lets_them_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(testing, "STACK_PORT_CLAIMS", tmp_path)
    holder = claim_in_another_process(tmp_path, 150)
    try:
        with testing.stack_ports_claimed(150, within=0.6) as claimed:
            assert not claimed
        with testing.stack_ports_claimed(250) as claimed:
            assert claimed  # another offset's ports are another claim
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
    with testing.stack_ports_claimed(150, within=30) as claimed:
        assert claimed
    assert holder.wait(timeout=30) == 0


def test_a_made_up_stack_takes_an_offset_no_other_session_claimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(testing, "STACK_PORT_CLAIMS", tmp_path)
    # Two offsets whose one port each (a stack of port 0) is free, below the ephemeral
    # range: no other test's stack or client can be holding them.
    first, second = infra.free_port(), infra.free_port()
    monkeypatch.setattr(stack_fixture, "CANDIDATE_OFFSETS", (first, second))
    monkeypatch.setattr(stack_fixture, "DEFAULT_PORTS", (0,))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")  # looks from the first offset
    holder = claim_in_another_process(tmp_path, first)
    try:
        with stack_fixture.free_offset() as offset:
            assert offset == second
            with testing.stack_ports_claimed(second) as claimed:
                assert not claimed  # ours until we leave
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
