"""How long until a MySQL source purges the binlog a task needs to resume (PostgreSQL: the slot's WAL).

The file a task needs is the one of its checkpoint position (where a restart resumes). The
server expires a binlog file `binlog_expire_logs_seconds` (or `expire_logs_days`) after it was
closed, so time left = closed_at + expire - now. The server does not tell when a file was
closed, so closed_at comes from what the monitor saw (the last time that file was still the
head, source_head), else from the task's last applied commit time when its metrics position is
in that file (the file was still open then). Both are lower bounds: the estimate errs early,
never late. With neither, there is no estimate (the rule does not fire). A needed file that is
already gone from SHOW BINARY LOGS leaves 0 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from connectors.mysql.position import file_sequence
from dts.datasources.models import Datasource
from dts.monitor.lag import TaskLag
from dts.monitor.source_head import closed_times, read_slots
from dts.monitor.source_sql import mysql_queries
from dts.sync.models import Checkpoint, SyncTask
from dts.sync.specs import slot_name

BINLOGS_CACHE_MS = 30000


@dataclass(frozen=True)
class RetentionEstimate:
    needed_file: str
    seconds_left: float | None  # None: binlogs are never expired by age on this server
    detail: str


@dataclass(frozen=True)
class BinlogInfo:
    files: list[str]  # oldest first
    expire_seconds: float  # 0: never expired by age


def binlogs_key(datasource_id: int) -> str:
    return f"dts:monitor:binlogs:{datasource_id}"


def binlog_info(datasource: Datasource, client: redis.Redis) -> BinlogInfo:
    """SHOW BINARY LOGS and the expiry settings, cached briefly per datasource. Raises SourceUnavailable."""
    cached = client.get(binlogs_key(datasource.pk))
    if cached is not None:
        data = json.loads(cached)
        return BinlogInfo(data["files"], data["expire_seconds"])
    logs, variables = mysql_queries(
        datasource.connection_config(), "SHOW BINARY LOGS",
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_expire_logs_seconds', 'expire_logs_days')")
    values = {str(name).lower(): float(value or 0) for name, value in variables}
    # MySQL 8 and MariaDB 10.6+ have the seconds variable; older servers only the days one.
    expire = values.get("binlog_expire_logs_seconds", 0.0) or values.get("expire_logs_days", 0.0) * 86400
    info = BinlogInfo([str(row[0]) for row in logs], expire)
    client.set(binlogs_key(datasource.pk), json.dumps({"files": info.files, "expire_seconds": expire}),
               px=BINLOGS_CACHE_MS)
    return info


def needed_file(task: SyncTask) -> str | None:
    state: dict[str, Any] | None = Checkpoint.objects.filter(task=task).values_list("state", flat=True).first()
    position = (state or {}).get("position")
    file = position.get("file") if isinstance(position, dict) else None
    return file if isinstance(file, str) else None


def estimate(task: SyncTask, lag: TaskLag, client: redis.Redis, now: float) -> RetentionEstimate | None:
    """None when there is nothing to estimate (not MySQL, no stream position yet, no close time known)."""
    if task.source.engine == "postgresql":
        return slot_estimate(task, client)
    if task.source.engine != "mysql":
        return None
    needed = needed_file(task)
    if needed is None:
        return None
    info = binlog_info(task.source, client)
    if needed not in info.files:
        if info.files and _sequence(needed) < _sequence(info.files[0]):
            return RetentionEstimate(needed, 0.0, f"{needed} is already purged (oldest is {info.files[0]}): "
                                                  "the task cannot resume from its checkpoint")
        return None
    if info.expire_seconds <= 0:
        return RetentionEstimate(needed, None, "binlog expiry by age is off on the source")
    if needed == info.files[-1]:
        return RetentionEstimate(needed, info.expire_seconds,
                                 f"{needed} is the current binlog file: it expires no sooner than "
                                 f"{info.expire_seconds:.0f}s after it is closed")
    closed_at = closed_times(client, task.source_id).get(needed)
    if closed_at is None and lag.position is not None and lag.position.get("file") == needed \
            and lag.last_commit_time is not None:
        closed_at = lag.last_commit_time
    if closed_at is None:
        return None
    left = max(0.0, closed_at + info.expire_seconds - now)
    return RetentionEstimate(needed, left, f"{needed} (needed by the checkpoint) is purged in about {left:.0f}s "
                                           f"(expiry {info.expire_seconds:.0f}s)")


def slot_estimate(task: SyncTask, client: redis.Redis) -> RetentionEstimate | None:
    """A PostgreSQL slot keeps its WAL until confirmed, unless max_slot_wal_keep_size lets the server drop it.

    wal_status 'unreserved' means the slot is past that limit and loses its WAL at the next checkpoint;
    'lost' means it has: the task cannot resume. Otherwise there is no deadline (seconds_left None).
    """
    name = slot_name(task)
    slot = read_slots(task.source, client).get(name)
    if slot is None:
        return None
    retained = int(slot["retained_wal_bytes"])
    if slot["wal_status"] == "lost":
        return RetentionEstimate(name, 0.0, f"slot {name} lost WAL it needed (max_slot_wal_keep_size): the task "
                                            "cannot resume from its checkpoint; restart it with a snapshot")
    if slot["wal_status"] == "unreserved":
        return RetentionEstimate(name, 0.0, f"slot {name} retains {retained:,} bytes of WAL, past "
                                            "max_slot_wal_keep_size: the server drops it at its next checkpoint")
    safe = slot["safe_wal_size"]
    limit = (f"{int(safe):,} bytes more before max_slot_wal_keep_size invalidates it" if safe is not None
             else "no max_slot_wal_keep_size limit")
    return RetentionEstimate(name, None, f"slot {name} retains {retained:,} bytes of WAL ({limit})")


def _sequence(name: str) -> float:
    """The file's number; a name without one sorts last, so it is never taken for a purged file."""
    try:
        return file_sequence(name)
    except ValueError:
        return float("inf")
