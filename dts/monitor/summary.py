"""What the console shows live for a task: state, lag, rates, progress, recent log lines, alerts."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q, Sum

from dts.monitor.models import AlertEvent, EventState
from dts.sync.models import Checkpoint, SyncTask, TableProgress, TaskLog

RECENT_LOG_LINES = 10
TABLES_SHOWN = 100


def progress(task: SyncTask) -> dict[str, Any]:
    tables = TableProgress.objects.filter(task=task)
    totals = tables.aggregate(rows_done=Sum("rows_done"), rows_estimate=Sum("rows_estimate"), tables=Count("id"),
                              finished=Count("id", filter=Q(chunks_total__gt=0, chunks_done__gte=F("chunks_total"))))
    phase = Checkpoint.objects.filter(task=task).values_list("state", flat=True).first() or {}
    return {
        "phase": phase.get("phase") if isinstance(phase, dict) else None,
        "tables": totals["tables"] or 0,
        "tables_finished": totals["finished"] or 0,
        "rows_done": totals["rows_done"] or 0,
        "rows_estimate": totals["rows_estimate"],
        "per_table": [
            {"table": row.source_table, "rows_done": row.rows_done, "rows_estimate": row.rows_estimate,
             "chunks_done": row.chunks_done, "chunks_total": row.chunks_total, "finished": row.finished}
            for row in tables[:TABLES_SHOWN]
        ],
    }

def recent_logs(task: SyncTask) -> list[dict[str, Any]]:
    lines = TaskLog.objects.filter(task=task).order_by("-at", "-id")[:RECENT_LOG_LINES]
    return [{"at": line.at.isoformat(), "level": line.level, "message": line.message} for line in reversed(lines)]


def task_summary(task: SyncTask, measured: dict[str, Any] | None) -> dict[str, Any]:
    """One message for /ws/tasks/<id>/ (also the first one a connection receives)."""
    measured = measured or {}
    return {
        "type": "task_metrics",
        "task": task.pk,
        "status": task.status,
        "status_message": task.status_message,
        "state": measured.get("state", "unknown"),
        "lag_seconds": measured.get("lag_seconds"),
        "caught_up": measured.get("caught_up"),
        "events_per_second": measured.get("events_per_second"),
        "rows_per_second": measured.get("rows_per_second"),
        "events_applied": measured.get("events_applied"),
        "rows_applied": measured.get("rows_applied"),
        "position": measured.get("position"),
        "head": measured.get("head"),
        "head_error": measured.get("head_error", ""),
        "lease_held": measured.get("lease_held"),
        "evaluated_at": measured.get("evaluated_at"),
        "alerts_firing": AlertEvent.objects.filter(task=task, state=EventState.FIRING).count(),
        "progress": progress(task),
        "logs": recent_logs(task),
    }
