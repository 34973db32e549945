"""The engine's reports, stored where the API and the console read them, and pushed live.

- log lines, snapshot progress and quarantined rows go to the database;
- applied counts, rates, the position and the last commit time go to the Redis hash
  dts:metrics:task:<id> about once a second (read by dts.monitor.lag, the API and /metrics);
- everything is also pushed to the task's WebSocket group (dts.monitor.push.TaskUpdates), at most
  every few tenths of a second and at once on a phase change, best effort.

Metrics hash fields: events_applied, rows_applied (counters since this runner started),
events_per_second, rows_per_second (applied over the last interval, about a second; absent until
the runner has measured one), updated_at (epoch), position (JSON), last_commit_time (epoch).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.db import connections

from connectors.keys import key_to_json
from connectors.types import TableId
from dts.monitor.push import TaskUpdates
from dts.sync.lease import redis_client
from dts.sync.models import QuarantinedRow, SyncTask, TableProgress, TaskLog

log = logging.getLogger("dts.sync")
LOG_LINES_KEPT = 1000
METRICS_EVERY_SECONDS = 1.0
RATE_FIELDS = ("events_per_second", "rows_per_second")


def metrics_key(task_id: int) -> str:
    return f"dts:metrics:task:{task_id}"


class DatabaseObserver:
    def __init__(self, task: SyncTask) -> None:
        self.task = task
        self._main = threading.current_thread()
        self._redis = redis_client()
        self._lock = threading.Lock()
        self._events = 0
        self._rows = 0
        self._position: dict[str, Any] | None = None
        self._commit_time: float | None = None
        self._last_metrics = 0.0
        # The rates' current interval: since the last write of the hash.
        self._window_started: float | None = None
        self._window_events = 0
        self._window_rows = 0
        self._rates: dict[str, float | None] = dict.fromkeys(RATE_FIELDS)
        self._logs_written = 0
        self.updates = TaskUpdates(task.pk)

    def _done_in_thread(self) -> None:
        # Engine threads come and go; do not leave their database connections behind.
        if threading.current_thread() is not self._main:
            connections.close_all()

    def _write_log(self, level: str, message: str) -> dict[str, Any]:
        getattr(log, level if level in ("info", "warning", "error") else "info")("task %s: %s", self.task.pk, message)
        line = TaskLog.objects.create(task=self.task, level=level, message=message)
        self._logs_written += 1
        if self._logs_written % 100 == 0:
            lines = TaskLog.objects.filter(task=self.task).values_list("pk", flat=True)
            oldest_kept = lines[LOG_LINES_KEPT:LOG_LINES_KEPT + 1]
            if oldest_kept:
                TaskLog.objects.filter(task=self.task, pk__lte=oldest_kept[0]).delete()
        return {"at": line.at.isoformat(), "level": level, "message": message}

    def log(self, level: str, message: str) -> None:
        line = self._write_log(level, message)
        self.updates.update("logs", log_line=line)
        self._done_in_thread()

    def phase(self, name: str) -> None:
        line = self._write_log("info", f"phase: {name}")
        self.updates.update("phase", force=True, log_line=line, phase=name)
        self._done_in_thread()

    def table_progress(self, table: TableId, rows_done: int, rows_estimate: int | None, chunks_done: int,
                       chunks_total: int) -> None:
        TableProgress.objects.update_or_create(
            task=self.task, source_table=str(table),
            defaults={"rows_done": rows_done, "rows_estimate": rows_estimate, "chunks_done": chunks_done,
                      "chunks_total": chunks_total})
        self.updates.update("tables", table={
            "table": str(table), "rows_done": rows_done, "rows_estimate": rows_estimate, "chunks_done": chunks_done,
            "chunks_total": chunks_total, "finished": chunks_total > 0 and chunks_done >= chunks_total})
        self._done_in_thread()

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None:
        with self._lock:
            self._events += events
            self._rows += rows
            self._window_events += events
            self._window_rows += rows
            if position is not None:
                self._position = position
            if commit_time is not None:
                self._commit_time = commit_time
            now = time.time()
            fields: dict[str, Any] | None = None
            first = self._window_started is None
            if now - self._last_metrics >= METRICS_EVERY_SECONDS:
                if self._window_started is not None and now > self._window_started:
                    elapsed = now - self._window_started
                    self._rates = {"events_per_second": self._window_events / elapsed,
                                   "rows_per_second": self._window_rows / elapsed}
                self._window_started, self._window_events, self._window_rows = now, 0, 0
                self._last_metrics = now
                fields = {"events_applied": self._events, "rows_applied": self._rows, "updated_at": now}
                fields |= {name: round(value, 3) for name, value in self._rates.items() if value is not None}
                if self._position is not None:
                    fields["position"] = json.dumps(self._position)
                if self._commit_time is not None:
                    fields["last_commit_time"] = self._commit_time
            live = {"events_applied": self._events, "rows_applied": self._rows, "position": self._position,
                    "last_commit_time": self._commit_time} | self._rates
        self.updates.update("applied", **live)
        if fields is not None:
            pipe = self._redis.pipeline()
            if first:
                pipe.hdel(metrics_key(self.task.pk), *RATE_FIELDS)  # a previous runner's rates are not ours
            pipe.hset(metrics_key(self.task.pk), mapping=fields)
            pipe.execute()

    def quarantined_row(self, row: Any) -> None:
        """A connectors.quarantine.QuarantinedRow, kept whole (stage, target) so it can be replayed."""
        QuarantinedRow.objects.create(task=self.task, source_table=row.table, target_table=row.target or "",
                                      stage=row.stage, key=key_to_json(tuple(row.key)), row=row.row,
                                      column=row.column or "", error=row.error, position=row.position)
        self.log("warning", f"quarantined a row of {row.table} (key {row.key}): {row.error}")

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None:
        QuarantinedRow.objects.create(task=self.task, source_table=str(table),
                                      key=key_to_json(tuple(key)) if isinstance(key, (tuple, list)) else key,
                                      row=row, column=column or "", error=error, position=position)
        self.log("warning", f"quarantined a row of {table} (key {key}): {error}")
