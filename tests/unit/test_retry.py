from __future__ import annotations

import pytest
from decentralml.core.retry import RetryPolicy, retry


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_retries_transient_then_succeeds() -> None:
    clock, calls, reconnects = Clock(), [], []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "ok"

    result = retry(
        fn,
        what="t",
        transient=(ConnectionError,),
        sleep=clock.sleep,
        clock=clock,
        on_retry=reconnects.append,
    )
    assert result == "ok"
    assert len(calls) == 3 and len(reconnects) == 2
    assert clock.sleeps[1] > clock.sleeps[0]  # backoff grows


def test_gives_up_after_attempts() -> None:
    clock = Clock()

    def fn() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        retry(
            fn,
            what="t",
            transient=(ConnectionError,),
            policy=RetryPolicy(attempts=3),
            sleep=clock.sleep,
            clock=clock,
        )
    assert len(clock.sleeps) == 2


def test_gives_up_at_deadline() -> None:
    clock = Clock()

    def fn() -> None:
        raise ConnectionError("down")

    policy = RetryPolicy(attempts=100, initial_delay_s=1, max_delay_s=1, deadline_s=3)
    with pytest.raises(ConnectionError):
        retry(
            fn,
            what="t",
            transient=(ConnectionError,),
            policy=policy,
            sleep=clock.sleep,
            clock=clock,
        )
    assert clock.now <= 3


def test_non_transient_errors_are_not_retried() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        retry(fn, what="t", transient=(ConnectionError,), sleep=lambda _: None)
    assert calls == [1]
