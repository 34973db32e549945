"""Keeping a compare gentle on production: a rows-per-second budget, and pauses while the source is busy."""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.pipeline.ratelimit import RateLimiter

from .endpoint import Endpoint


class Throttle:
    def __init__(self, source: Endpoint | None, rate_limit_rows: int = 0, max_threads_running: int = 0, *,
                 pause_seconds: float = 1.0, check_every: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source = source
        self.limiter = RateLimiter(rate_limit_rows) if rate_limit_rows > 0 else None
        self.max_threads_running = max_threads_running
        self.pause_seconds = pause_seconds
        self.check_every = check_every
        self.sleep = sleep
        self.paused_seconds = 0.0
        self._checked = 0.0

    def before_source_query(self) -> None:
        """Wait while the source runs more threads than allowed (checked at most every check_every s)."""
        if self.source is None or self.max_threads_running <= 0:
            return
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return
        while True:
            load = self.source.load()
            if load is None or load <= self.max_threads_running:
                break
            self.paused_seconds += self.pause_seconds
            self.sleep(self.pause_seconds)
        self._checked = time.monotonic()

    def rows_read(self, count: int) -> None:
        if self.limiter is not None and count > 0:
            self.limiter.acquire(count)
