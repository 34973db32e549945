"""A rolling per-task history for charts: one point per 10 s, 24 hours, bounded in Redis.

A Redis list per task, appended at most once per 10-second bucket and trimmed to 8640 points
(24 h) on every append, so memory stays bounded (~0.5 MB per task) whatever runs.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from dts.monitor.lag import TaskLag

RESOLUTION_SECONDS = 10
MAX_POINTS = 24 * 3600 // RESOLUTION_SECONDS  # 8640
TTL_SECONDS = 2 * 86400  # a deleted task's history goes away by itself


def history_key(task_id: int) -> str:
    return f"dts:monitor:history:{task_id}"


def record(client: redis.Redis, task_id: int, at: float, point: dict[str, Any]) -> bool:
    """Append a point for the 10 s bucket of `at`, unless that bucket has one already."""
    key = history_key(task_id)
    bucket = int(at // RESOLUTION_SECONDS) * RESOLUTION_SECONDS
    last = client.lindex(key, -1)
    if last is not None and json.loads(last)["t"] >= bucket:
        return False
    pipe = client.pipeline()
    pipe.rpush(key, json.dumps({"t": bucket} | point))
    pipe.ltrim(key, -MAX_POINTS, -1)
    pipe.expire(key, TTL_SECONDS)
    pipe.execute()
    return True


def record_lag(client: redis.Redis, lag: TaskLag) -> bool:
    return record(client, lag.task_id, lag.evaluated_at, {
        "lag": _rounded(lag.lag_seconds), "state": lag.state,
        "eps": _rounded(lag.events_per_second), "rps": _rounded(lag.rows_per_second),
    })


def read(client: redis.Redis, task_id: int, since: float | None = None) -> list[dict[str, Any]]:
    """Points oldest first, from `since` (epoch seconds) when given."""
    points = [json.loads(raw) for raw in client.lrange(history_key(task_id), 0, -1)]
    if since is not None:
        points = [point for point in points if point["t"] >= since]
    return points


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
