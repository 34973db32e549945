"""A token bucket: at most `rate` rows per second, with up to one second of burst.

One limiter is shared by a task's snapshot threads, so the bucket is updated under a lock;
the wait happens outside it, so a sleeping thread never blocks another's refill.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class RateLimiter:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._tokens = float(rate)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, count: int = 1) -> None:
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(float(self.rate), self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= count or (count > self.rate and self._tokens >= self.rate):
                    self._tokens -= count
                    return
                wait = min(1.0, (count - self._tokens) / self.rate)
            time.sleep(wait)


def throttled(rows: Iterable[T], limiter: RateLimiter) -> Iterator[T]:
    """The rows, no faster than the limiter allows."""
    for row in rows:
        limiter.acquire(1)
        yield row
