"""How ``make test`` hands its work units to the workers (``keybuzz_devstack.testing``'s
scheduler over pytest-xdist's ``loadfile``): the long units of few tests first, each on a
worker of its own, every test run once. pytest-xdist's controller is simulated here (its
workers as pytest-xdist runs them: a test runs once the worker knows the test after it, or
that none comes); the scheduler is the suite's own."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from keybuzz_devstack.testing import RUN_FIRST, work_unit, work_unit_scheduler

ROOT = Path(__file__).resolve().parents[1]


@dataclass(eq=False)
class Worker:
    """What the scheduler calls on a pytest-xdist worker, and what it was sent."""

    name: str
    sent: list[int] = field(default_factory=list)
    shutting_down: bool = False
    done: int = 0  # how many of ``sent`` it has run

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


class Silent:
    """pytest-xdist's log (``log.loadfilesched(...)``), saying nothing."""

    def __getattr__(self, name: str) -> Silent:
        return self

    def __call__(self, *args: Any) -> None:
        pass


Ran = tuple[dict[str, list[str]], dict[str, float], float, list[Worker]]


def run(
    collection: list[str], seconds: dict[str, float], workers: int, first: tuple[str, ...]
) -> Ran:
    """Every test run by ``workers`` simulated workers, each test taking its ``seconds``:
    the units each worker ran in order, each unit's start, the run's end, the workers."""
    config = SimpleNamespace(
        getvalue=lambda name: {"tx": [f"{workers}*popen"]}[name],
        option=SimpleNamespace(loadscopereorder=True),
    )
    scheduler = work_unit_scheduler(config, Silent(), first)
    nodes = [Worker(f"gw{n}") for n in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    clock = {node.name: 0.0 for node in nodes}
    started: dict[str, float] = {}
    ran: dict[str, list[str]] = {node.name: [] for node in nodes}
    running: list[tuple[float, int, Worker]] = []

    def start_next(node: Worker) -> None:
        # A pytest-xdist worker runs a test once it has the next, or is told none comes.
        if node.done < len(node.sent) and (node.done + 1 < len(node.sent) or node.shutting_down):
            nodeid = collection[node.sent[node.done]]
            unit = work_unit(nodeid)
            if not ran[node.name] or ran[node.name][-1] != unit:
                ran[node.name].append(unit)
                started.setdefault(unit, clock[node.name])
            ends = clock[node.name] + seconds[nodeid]
            heapq.heappush(running, (ends, id(node), node))

    for node in nodes:
        start_next(node)
    while running:
        ends, _, node = heapq.heappop(running)
        clock[node.name] = ends
        index = node.sent[node.done]
        node.done += 1
        scheduler.mark_test_complete(node, index)
        for each in nodes:
            if not any(n is each for _, _, n in running):
                start_next(each)
    unrun = [n.name for n in nodes if n.done < len(n.sent) or not n.shutting_down]
    assert not unrun, f"workers waiting for ever: {unrun}"
    return ran, started, max(clock.values()), nodes


def suite(
    long: dict[str, tuple[int, float]], short_files: int
) -> tuple[list[str], dict[str, float]]:
    """A collection: ``long`` units (tests, seconds each), then ``short_files`` files of 10
    tests of 1 s each, as pytest collects them."""
    collection: list[str] = []
    for n in range(short_files):
        for t in range(10):
            collection.append(f"tests/test_short_{n}.py::test_{t}")
    for path, (tests, _) in long.items():
        collection += [f"{path}::test_{t}" for t in range(tests)]
    seconds = {nodeid: 1.0 for nodeid in collection}
    for path, (tests, each) in long.items():
        seconds |= {f"{path}::test_{t}": each for t in range(tests)}
    return collection, seconds


LONG = {
    "tests/test_long_a.py": (1, 90.0),
    "tests/test_long_b.py": (2, 40.0),
    "tests/test_long_c.py": (1, 60.0),
}


def test_the_long_units_start_first_each_on_a_worker_of_its_own() -> None:
    collection, seconds = suite(LONG, short_files=30)
    first = ("tests/test_long_a.py", "tests/test_long_b.py", "tests/test_long_c.py")
    ran, started, _, nodes = run(collection, seconds, 5, first)
    assert {started[unit] for unit in first} == {0.0}
    holding = [[u for u in units if u in first] for units in ran.values()]
    assert sorted(len(h) for h in holding) == [0, 0, 1, 1, 1], ran
    assert sorted(i for node in nodes for i in node.sent) == list(range(len(collection)))


def test_a_worker_running_a_long_unit_is_given_no_second_long_one() -> None:
    """Two workers, three long units: the third goes to the worker whose long unit ended
    first, not behind the one still running (pytest-xdist gives a worker more while it has
    two tests or fewer to run: a 1-test unit would have the next long one queued behind)."""
    long = {
        "tests/test_long_a.py": (1, 100.0),
        "tests/test_long_b.py": (3, 10.0),
        "tests/test_long_c.py": (1, 100.0),
    }
    collection, seconds = suite(long, short_files=10)
    ran, started, end, nodes = run(collection, seconds, 2, tuple(long))
    assert started["tests/test_long_a.py"] == started["tests/test_long_b.py"] == 0.0
    [with_c] = [units for units in ran.values() if "tests/test_long_c.py" in units]
    assert "tests/test_long_a.py" not in with_c, ran
    assert sorted(i for node in nodes for i in node.sent) == list(range(len(collection)))
    work = sum(seconds.values())  # 330 s: 165 s a worker at best; c behind a: 200 s
    assert end <= work / 2 + 10


def test_the_run_ends_sooner_than_with_the_long_units_last() -> None:
    collection, seconds = suite(LONG, short_files=30)
    first = ("tests/test_long_a.py", "tests/test_long_b.py", "tests/test_long_c.py")
    *_, by_count, _ = run(collection, seconds, 5, ())
    *_, long_first, _ = run(collection, seconds, 5, first)
    work = sum(seconds.values())  # 530 s: 106 s a worker at best
    assert long_first <= work / 5 + 5
    assert by_count >= long_first + 30  # the 90 s unit started last: 150 s


def test_every_unit_to_run_first_is_one_the_suite_collects() -> None:
    """A file renamed or moved would silently go back to the end."""
    for unit in RUN_FIRST:
        path = unit.partition("::")[0]
        assert (ROOT / path).is_file(), unit
