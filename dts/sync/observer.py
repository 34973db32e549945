"""The engine's reports, stored where the API and the console read them."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.db import connections

from connectors.keys import key_to_json
from connectors.types import TableId
from dts.sync.lease import redis_client
from dts.sync.models import QuarantinedRow, SyncTask, TableProgress, TaskLog

log = logging.getLogger("dts.sync")
LOG_LINES_KEPT = 1000
METRICS_EVERY_SECONDS = 1.0


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
        self._last_metrics = 0.0
        self._logs_written = 0

    def _done_in_thread(self) -> None:
        # Engine threads come and go; do not leave their database connections behind.
        if threading.current_thread() is not self._main:
            connections.close_all()

    def log(self, level: str, message: str) -> None:
        getattr(log, level if level in ("info", "warning", "error") else "info")("task %s: %s", self.task.pk, message)
        TaskLog.objects.create(task=self.task, level=level, message=message)
        self._logs_written += 1
        if self._logs_written % 100 == 0:
            lines = TaskLog.objects.filter(task=self.task).values_list("pk", flat=True)
            oldest_kept = lines[LOG_LINES_KEPT:LOG_LINES_KEPT + 1]
            if oldest_kept:
                TaskLog.objects.filter(task=self.task, pk__lte=oldest_kept[0]).delete()
        self._done_in_thread()

    def phase(self, name: str) -> None:
        self.log("info", f"phase: {name}")

    def table_progress(self, table: TableId, rows_done: int, rows_estimate: int | None, chunks_done: int,
                       chunks_total: int) -> None:
        TableProgress.objects.update_or_create(
            task=self.task, source_table=str(table),
            defaults={"rows_done": rows_done, "rows_estimate": rows_estimate, "chunks_done": chunks_done,
                      "chunks_total": chunks_total})
        self._done_in_thread()

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None:
        with self._lock:
            self._events += events
            self._rows += rows
            now = time.time()
            if now - self._last_metrics < METRICS_EVERY_SECONDS:
                return
            self._last_metrics = now
            fields = {"events_applied": self._events, "rows_applied": self._rows, "updated_at": now}
        if position is not None:
            fields["position"] = json.dumps(position)
        if commit_time is not None:
            fields["last_commit_time"] = commit_time
        self._redis.hset(metrics_key(self.task.pk), mapping=fields)  # type: ignore[arg-type]

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None:
        QuarantinedRow.objects.create(task=self.task, source_table=str(table),
                                      key=key_to_json(tuple(key)) if isinstance(key, (tuple, list)) else key,
                                      row=row, column=column or "", error=error, position=position)
        self.log("warning", f"quarantined a row of {table} (key {key}): {error}")
