"""The one retry helper for network calls (node RPC, IPFS RPC).

Exponential backoff with jitter and a give-up rule: at most ``attempts`` tries and at most
``deadline_s`` seconds in total, retrying only the exception types that mean "transient"
(connection refused, reset, timeout). Everything else propagates at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Total tries, including the first."""
    initial_delay_s: float = 0.2
    max_delay_s: float = 5.0
    multiplier: float = 2.0
    deadline_s: float = 30.0
    """Give up when the next wait would end after this many seconds since the first try."""

    def delays(self) -> list[float]:
        out, delay = [], self.initial_delay_s
        for _ in range(max(0, self.attempts - 1)):
            out.append(min(delay, self.max_delay_s))
            delay *= self.multiplier
        return out


NO_RETRY = RetryPolicy(attempts=1)


def retry(
    fn: Callable[[], T],
    *,
    what: str,
    transient: tuple[type[BaseException], ...],
    policy: RetryPolicy = RetryPolicy(),
    on_retry: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fn`` until it succeeds, a non-transient error is raised, or the policy gives up.

    ``on_retry`` runs after each transient failure, before the wait (reconnect there).
    The last transient error is re-raised when giving up.
    """
    start = clock()
    delays = policy.delays()
    attempt = 0
    while True:
        try:
            return fn()
        except transient as exc:
            if attempt >= len(delays):
                log.warning("%s failed after %d tries: %s", what, attempt + 1, exc)
                raise
            delay = delays[attempt] * (0.75 + random.random() / 2)
            if clock() - start + delay > policy.deadline_s:
                log.warning(
                    "%s failed, deadline of %.0f s reached: %s", what, policy.deadline_s, exc
                )
                raise
            attempt += 1
            log.info("%s failed (%s), retry %d in %.2f s", what, exc, attempt, delay)
            if on_retry is not None:
                on_retry(exc)
            sleep(delay)
