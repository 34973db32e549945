"""Pushing a task's live state to its WebSocket group (task.<id>, read by /ws/tasks/<id>/).

Two senders, each rate-limited per task:

- `to_task`: the delay monitor's summary after each evaluation, at most every 0.5 s;
- `TaskUpdates`: the runner's own updates (snapshot progress, applied batches and rates, phase
  changes, log lines), coalesced and sent at most every few tenths of a second (phase changes at
  once) from a background event loop, so the engine's threads never wait on Redis.

Both are best effort: a console that misses one gets the next.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("dts.monitor")
MIN_INTERVAL_SECONDS = 0.5
RUNNER_MIN_INTERVAL_SECONDS = 0.3
SEND_TIMEOUT_SECONDS = 5.0
LOG_LINES_PER_PUSH = 20
_last_push: dict[int, float] = {}


def task_group(task_id: int) -> str:
    return f"task.{task_id}"


def to_task(task_id: int, event: dict[str, Any]) -> bool:
    """Best effort, like dts.live.publish: a console that misses one gets the next evaluation's."""
    now = time.monotonic()
    if now - _last_push.get(task_id, 0.0) < MIN_INTERVAL_SECONDS:
        return False
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(task_group(task_id), {"type": "task.update", "event": event})
    except OSError as exc:  # Redis unreachable: the monitor goes on, the console catches up later
        log.warning("live push to task %s failed: %s", task_id, exc)
        return False
    _last_push[task_id] = now
    return True


# --- the runner's updates ----------------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()
_tasks: set[asyncio.Task[None]] = set()  # strong references until done (asyncio keeps weak ones)


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread per process (started again in a forked child), shared by all runners."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="dts-live-push", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


class TaskUpdates:
    """A running task's live updates, coalesced and pushed to task.<id> at most every `min_interval` s.

    `update` returns at once; the push happens on the background loop. What changes between two
    pushes goes out together in the next one: table progress and log lines accumulate, the other
    values (phase, counters, rates, position) are the latest. `force` (a phase change) sends without
    waiting for the interval. A failed push is logged at debug level and dropped: the next one
    carries the latest state anyway.

    Message: {"type": "task_live", "task", "at", "changed": [...], "phase", "events_applied",
    "rows_applied", "events_per_second", "rows_per_second", "position", "last_commit_time",
    "tables": [{"table", "rows_done", "rows_estimate", "chunks_done", "chunks_total", "finished"}],
    "logs": [{"at", "level", "message"}]}.
    """

    def __init__(self, task_id: int, min_interval: float = RUNNER_MIN_INTERVAL_SECONDS) -> None:
        self.task_id = task_id
        self.min_interval = min_interval
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {
            "phase": None, "events_applied": 0, "rows_applied": 0, "events_per_second": None,
            "rows_per_second": None, "position": None, "last_commit_time": None}
        self._tables: dict[str, dict[str, Any]] = {}
        self._logs: list[dict[str, Any]] = []
        self._changed: set[str] = set()
        self._force = False
        self._scheduled = False  # a flush is due on the loop
        self._sending = False  # a push is in flight (touched on the loop thread only, under the lock)
        self._last_sent = -math.inf

    def update(self, change: str, *, force: bool = False, table: dict[str, Any] | None = None,
               log_line: dict[str, Any] | None = None, **values: Any) -> None:
        """Record what changed ('phase', 'tables', 'applied', 'logs') and have it pushed soon."""
        with self._lock:
            self._values.update(values)
            self._changed.add(change)
            if table is not None:
                self._tables[table["table"]] = table
            if log_line is not None:
                self._logs.append(log_line)
                del self._logs[:-LOG_LINES_PER_PUSH]
            self._force = self._force or force
            if self._scheduled and not force:
                return  # the flush already due takes this change along
            self._scheduled = True
            delay = self._delay()
        try:
            loop = _background_loop()
            loop.call_soon_threadsafe(self._schedule, loop, delay)
        except Exception as exc:  # noqa: BLE001  (no thread, a closed loop: the run goes on without pushes)
            log.debug("task %s: cannot schedule a live push: %s", self.task_id, exc)
            with self._lock:
                self._scheduled = False

    def _delay(self) -> float:
        if self._force:
            return 0.0
        return max(0.0, self._last_sent + self.min_interval - time.monotonic())

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        loop.call_later(delay, self._start_flush, loop)

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._flush())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    def _take(self) -> dict[str, Any] | None:
        if not self._changed:
            return None
        message = {"type": "task_live", "task": self.task_id, "at": time.time(), "changed": sorted(self._changed),
                   **self._values, "tables": list(self._tables.values()), "logs": list(self._logs)}
        self._changed.clear()
        self._tables.clear()
        self._logs.clear()
        self._force = False
        return message

    async def _flush(self) -> None:
        with self._lock:
            self._scheduled = False
            if self._sending or not self._changed:
                return  # the push in flight schedules the next one when it is done
            wait = self._delay()
            if wait > 0:  # a forced push went out since this flush was scheduled: keep the spacing
                self._scheduled = True
                asyncio.get_running_loop().call_later(wait, self._start_flush, asyncio.get_running_loop())
                return
            message = self._take()
            if message is None:
                return
            self._sending = True
            self._last_sent = time.monotonic()
        try:
            layer = get_channel_layer()
            if layer is not None:
                await asyncio.wait_for(
                    layer.group_send(task_group(self.task_id), {"type": "task.update", "event": message}),
                    SEND_TIMEOUT_SECONDS)
                self.sent += 1
        except Exception as exc:  # noqa: BLE001  (best effort: a push never fails the run)
            self.failed += 1
            log.debug("task %s: live push failed: %s: %s", self.task_id, type(exc).__name__, exc)
        finally:
            with self._lock:
                self._sending = False
                again = bool(self._changed) and not self._scheduled
                if again:
                    self._scheduled = True
                    delay = self._delay()
            if again:
                self._schedule(asyncio.get_running_loop(), delay)
