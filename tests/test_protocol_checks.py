"""``protocol_checks.conforms``: a runtime protocol's ``isinstance`` answered once a class,
the same answer as ``isinstance`` (the poller's hot path asks it at every poll)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import httpx
from keybuzz_shared.connectors.kit.auth import SignsRequests
from keybuzz_shared.protocol_checks import conforms


@runtime_checkable
class _Counts(Protocol):
    def allowance_calls(self) -> int: ...


class _Signing:
    def sign(self, request: httpx.Request) -> httpx.Request:
        return request


class _SigningAndCounting(_Signing):
    def allowance_calls(self) -> int:
        return 0


class _Neither:
    pass


def test_the_answer_is_isinstance_s_for_each_class_and_protocol_asked_again() -> None:
    values = [_Signing(), _SigningAndCounting(), _Neither(), object(), "text"]
    for _ in range(2):  # the second round from what was kept
        for value in values:
            for protocol in (SignsRequests, _Counts):
                assert conforms(value, protocol) is isinstance(value, protocol), (value, protocol)
    assert conforms(_SigningAndCounting(), _Counts) and not conforms(_Signing(), _Counts)


def test_a_class_s_answer_is_kept_not_walked_again() -> None:
    class Later:
        pass

    assert not conforms(Later(), _Counts)
    Later.allowance_calls = lambda self: 0  # type: ignore[attr-defined]
    assert isinstance(Later(), _Counts)  # the protocol's walk would now say yes
    assert not conforms(Later(), _Counts)  # the kept answer, asked without the walk
