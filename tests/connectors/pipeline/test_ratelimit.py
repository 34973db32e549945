"""The row rate limit holds when several snapshot threads share one limiter."""

from __future__ import annotations

import threading
import time

from connectors.pipeline.ratelimit import RateLimiter, throttled


def test_shared_limiter_never_exceeds_its_rate_across_threads() -> None:
    rate, threads, rows_each = 400, 4, 200
    limiter = RateLimiter(rate)
    done: list[int] = []

    def read() -> None:
        done.append(sum(1 for _ in throttled(range(rows_each), limiter)))

    started = time.monotonic()
    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    assert done == [rows_each] * threads
    # One second of burst, then `rate` rows per second: 800 rows need at least 1 second.
    assert elapsed >= (threads * rows_each - rate) / rate * 0.98


def test_zero_rate_means_unlimited() -> None:
    limiter = RateLimiter(0)
    started = time.monotonic()
    assert sum(1 for _ in throttled(range(100_000), limiter)) == 100_000
    assert time.monotonic() - started < 5
