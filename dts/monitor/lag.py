"""How far behind its source a task is, from what its runner reports and the source's head.

Lag is now - the source commit time of the last applied event while the task is behind the
head, and 0 once its position has reached the head: an idle source shows 0, however old its
last commit. The result is kept in Redis per task for the API, /metrics and the console.

Runner metrics (dts:metrics:task:<id>, written by dts.sync.observer about once a second):
events_applied, rows_applied, events_per_second, rows_per_second (over the runner's last interval),
updated_at (epoch), position (JSON: MySQL {"file", "pos", "gtid"}, PostgreSQL {"lsn"}), last_commit_time (epoch).
For PostgreSQL sources the measurement also carries the WAL the task's slot retains, in bytes.

Rates: the runner's own while its metrics are fresh (written in the last RUNNER_RATES_FRESH_SECONDS);
otherwise (no runner, a runner that stopped applying) from the counters between two evaluations,
which is 0 for counters that do not move.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

from connectors.mysql.position import BinlogPosition
from connectors.postgresql.position import Lsn
from dts.monitor.redis_values import hash_as_text
from dts.monitor.source_head import read_head, read_slots
from dts.monitor.source_sql import SourceUnavailable
from dts.sync.lease import TaskLease
from dts.sync.models import SyncTask
from dts.sync.observer import metrics_key
from dts.sync.specs import slot_name

# A runner holding its lease whose position has not moved this long while behind is shown as stalled;
# stalled alert rules choose their own threshold.
DEFAULT_STALL_SECONDS = 60.0
# A runner rewrites its rates at least every couple of seconds while it applies (idle checkpoints included).
RUNNER_RATES_FRESH_SECONDS = 10.0
STATE_TTL_SECONDS = 2 * 86400


class State:
    CAUGHT_UP = "caught_up"
    BEHIND = "behind"
    STALLED = "stalled"
    UNKNOWN = "unknown"  # no position yet (snapshot phase), or the head cannot be read
    INACTIVE = "inactive"  # not queued, running or paused


@dataclass(frozen=True)
class TaskLag:
    task_id: int
    status: str
    state: str
    lag_seconds: float | None
    caught_up: bool | None
    position: dict[str, Any] | None
    head: dict[str, Any] | None
    head_error: str
    position_since: float | None
    position_unchanged_seconds: float | None
    # How long the position has not moved while the head was past it (None when caught up): what a
    # stall is measured by. An idle caught-up stream's position stays put too, but that is no stall,
    # nor is the moment between the source moving on and the runner's next report.
    frozen_behind_since: float | None
    frozen_behind_seconds: float | None
    lease_held: bool
    events_applied: int | None
    rows_applied: int | None
    events_per_second: float | None
    rows_per_second: float | None
    last_commit_time: float | None
    metrics_updated_at: float | None
    evaluated_at: float
    # PostgreSQL sources: the WAL the task's replication slot keeps on the server (None: not known).
    retained_wal_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def state_key(task_id: int) -> str:
    return f"dts:monitor:task:{task_id}"


# Kept between measurements for the next one, not part of what readers see.
_INTERNAL = ("position_key",)


def _stored(client: redis.Redis, task_id: int) -> dict[str, Any]:
    raw = client.get(state_key(task_id))
    return json.loads(raw) if raw else {}


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in _INTERNAL}


def load(client: redis.Redis, task_id: int) -> dict[str, Any] | None:
    """The last measurement stored for a task, as a dict (None before the first evaluation)."""
    data = _stored(client, task_id)
    return _public(data) if data else None


def load_many(client: redis.Redis, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not task_ids:
        return {}
    values = client.mget([state_key(task_id) for task_id in task_ids])
    return {task_id: _public(json.loads(raw)) for task_id, raw in zip(task_ids, values, strict=True) if raw}


def read_metrics(client: redis.Redis, task_id: int) -> dict[str, Any]:
    """The runner's metrics hash, decoded; missing fields are absent."""
    raw = hash_as_text(client, metrics_key(task_id))
    metrics: dict[str, Any] = {}
    for name in ("events_applied", "rows_applied"):
        if raw.get(name):
            metrics[name] = int(float(raw[name]))
    for name in ("updated_at", "last_commit_time", "events_per_second", "rows_per_second"):
        if raw.get(name):
            metrics[name] = float(raw[name])
    if raw.get("position"):
        metrics["position"] = json.loads(raw["position"])
    return metrics


def is_caught_up(engine: str, position: dict[str, Any] | None, head: dict[str, Any] | None) -> bool | None:
    """Whether the applied position has reached the head; None when either is unknown or unreadable."""
    if position is None or head is None:
        return None
    if engine == "mysql":
        try:
            # The cached head may be a few seconds old, so the task can be ahead of it: that is caught up too.
            return BinlogPosition.from_json(position) >= BinlogPosition.from_json(head)
        except ValueError:
            return None
    if engine == "postgresql":
        try:
            return not Lsn.from_json(position) < Lsn.from_json(head)
        except ValueError:
            return None
    return position == head


def retained_wal(task: SyncTask, client: redis.Redis) -> int | None:
    """Bytes of WAL the task's slot keeps on a PostgreSQL source (None: other engines, no slot, unreadable)."""
    if task.source.engine != "postgresql":
        return None
    try:
        slot = read_slots(task.source, client).get(slot_name(task))
    except SourceUnavailable:
        return None  # the head's error already tells why
    return int(slot["retained_wal_bytes"]) if slot is not None else None


def measure(task: SyncTask, client: redis.Redis, now: float) -> TaskLag:
    """Measure one task and store the result (the next measurement needs it for rates and stalls)."""
    metrics = read_metrics(client, task.pk)
    previous = _stored(client, task.pk)
    position = metrics.get("position")
    active = task.is_active
    head: dict[str, Any] | None = None
    head_error = ""
    if active:
        try:
            source_head = read_head(task.source, client, now)
            head = source_head.position if source_head is not None else None
        except SourceUnavailable as exc:
            head_error = str(exc)
    caught_up = is_caught_up(task.source.engine, position, head)
    last_commit = metrics.get("last_commit_time")

    if not active:
        lag = None
    elif caught_up:
        lag = 0.0
    elif position is None or last_commit is None:
        lag = None
    else:
        # Behind the head, or the head is unknown: then this is an upper bound, the safe side for alerts.
        lag = max(0.0, now - last_commit)

    canonical = json.dumps(position, sort_keys=True) if position is not None else None
    since = previous.get("position_since") if previous.get("position_key") == canonical else None
    since = now if since is None and position is not None else since
    unchanged = now - since if since is not None else None
    same_position = position is not None and previous.get("position_key") == canonical
    frozen_since: float | None
    if caught_up is True or position is None:
        frozen_since = None
    elif caught_up is False:
        frozen_since = (previous.get("frozen_behind_since") if same_position else None) or now
    else:  # the head is unknown: neither start nor reset the clock
        frozen_since = previous.get("frozen_behind_since") if same_position else None
    frozen = now - frozen_since if frozen_since is not None else None
    lease_held = TaskLease.is_held(task.pk, client)
    events_rate, rows_rate = _rates(metrics, previous, now)

    if not active:
        state = State.INACTIVE
    elif caught_up:
        state = State.CAUGHT_UP
    elif caught_up is False and lease_held and frozen is not None and frozen >= DEFAULT_STALL_SECONDS:
        state = State.STALLED
    elif caught_up is False:
        state = State.BEHIND
    else:
        state = State.UNKNOWN  # lag may still be known (an upper bound) when the head is not

    result = TaskLag(
        task_id=task.pk, status=task.status, state=state, lag_seconds=lag, caught_up=caught_up, position=position,
        head=head, head_error=head_error, position_since=since, position_unchanged_seconds=unchanged,
        frozen_behind_since=frozen_since, frozen_behind_seconds=frozen,
        lease_held=lease_held, events_applied=metrics.get("events_applied"), rows_applied=metrics.get("rows_applied"),
        events_per_second=events_rate, rows_per_second=rows_rate, last_commit_time=last_commit,
        metrics_updated_at=metrics.get("updated_at"), evaluated_at=now,
        retained_wal_bytes=retained_wal(task, client),
    )
    stored = result.as_dict() | {"position_key": canonical}
    client.set(state_key(task.pk), json.dumps(stored), ex=STATE_TTL_SECONDS)
    return result


def _rates(metrics: dict[str, Any], previous: dict[str, Any], now: float) -> tuple[float | None, float | None]:
    updated_at = metrics.get("updated_at")
    fresh = updated_at is not None and now - updated_at <= RUNNER_RATES_FRESH_SECONDS
    rates = []
    for counter, rate in (("events_applied", "events_per_second"), ("rows_applied", "rows_per_second")):
        if fresh and metrics.get(rate) is not None:
            rates.append(float(metrics[rate]))
        else:
            rates.append(_rate(metrics.get(counter), previous.get(counter), now, previous.get("evaluated_at")))
    return rates[0], rates[1]


def _rate(current: int | None, previous: int | None, now: float, previous_at: float | None) -> float | None:
    if current is None or previous is None or previous_at is None or now <= previous_at:
        return None
    if current < previous:
        return None  # counters restart with a new runner: no rate across the restart
    return (current - previous) / (now - previous_at)
