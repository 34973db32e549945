"""Evaluating one alert rule for one task: is its condition true now, and with which value.

One evaluator per rule kind, in one dict. An evaluator answers None when it cannot tell (the
event, if any, is left as it is) and a Condition otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from dts.monitor import retention
from dts.monitor.lag import DEFAULT_STALL_SECONDS, TaskLag
from dts.monitor.models import AlertRule, RuleKind
from dts.monitor.source_sql import SourceUnavailable
from dts.sync.models import QuarantinedRow, Status, SyncTask

log = logging.getLogger("dts.monitor")


@dataclass(frozen=True)
class Condition:
    firing: bool
    value: float | None
    message: str


@dataclass
class Context:
    task: SyncTask
    lag: TaskLag
    client: redis.Redis
    now: float
    # Filled on first use, shared by the rules evaluated for the same task.
    cache: dict[str, object] = field(default_factory=dict)


def lag(rule: AlertRule, ctx: Context) -> Condition:
    threshold = rule.threshold or 0.0
    value = ctx.lag.lag_seconds
    if value is None:
        return Condition(False, None, "Lag is unknown (the task is not streaming).")
    return Condition(value > threshold, round(value, 3),
                     f"Lag is {_seconds(value)} (threshold {threshold:g}s); the task is "
                     f"{ctx.lag.state.replace('_', ' ')}.")


def _seconds(value: float) -> str:
    # "Lag is 3s (threshold 3s)" would read as no breach: show a tenth below a minute.
    return f"{value:.1f}s" if value < 60 else f"{value:.0f}s"


def task_failed(rule: AlertRule, ctx: Context) -> Condition:
    failed = ctx.task.status == Status.FAILED
    message = f"The task failed: {ctx.task.status_message}" if failed else f"The task is {ctx.task.status}."
    return Condition(failed, 1.0 if failed else 0.0, message)


def stalled(rule: AlertRule, ctx: Context) -> Condition:
    threshold = rule.threshold or DEFAULT_STALL_SECONDS
    frozen = ctx.lag.frozen_behind_seconds
    # Stalled = a runner is alive (lease held) and its position has not moved while the source was past it.
    firing = ctx.lag.lease_held and ctx.lag.caught_up is False and frozen is not None and frozen >= threshold
    value = round(frozen, 3) if frozen is not None else None
    if firing:
        message = (f"The runner holds its lease but its position has not moved for {_seconds(frozen)} "
                   f"(threshold {threshold:g}s) while the source moved on to {ctx.lag.head}.")
    else:
        message = "The task's position is moving or it has caught up."
    return Condition(firing, value, message)


def binlog_retention(rule: AlertRule, ctx: Context) -> Condition | None:
    try:
        estimate = retention.estimate(ctx.task, ctx.lag, ctx.client, ctx.now)
    except SourceUnavailable as exc:
        log.warning("task %s: retention not evaluated: %s", ctx.task.pk, exc)
        return None
    if estimate is None:
        return None
    if estimate.seconds_left is None:
        return Condition(False, None, estimate.detail)
    threshold = rule.threshold or 0.0
    return Condition(estimate.seconds_left < threshold, round(estimate.seconds_left, 3),
                     f"{estimate.detail} (threshold {threshold:g}s).")


def compare_diff(rule: AlertRule, ctx: Context) -> Condition | None:
    # The task's latest completed compare run decides (None: no run yet). Compare jobs also apply it
    # the moment a run finishes (dts.monitor.compare_alerts), so an alert does not wait for this loop.
    from dts.monitor.compare_alerts import latest_condition

    return latest_condition(ctx.task)


def quarantine(rule: AlertRule, ctx: Context) -> Condition:
    count = ctx.cache.get("quarantined")
    if count is None:
        count = ctx.cache["quarantined"] = QuarantinedRow.objects.filter(task=ctx.task).count()
    assert isinstance(count, int)
    threshold = rule.threshold or 0.0
    return Condition(count > threshold, float(count), f"{count} quarantined rows (threshold {threshold:g}).")


EVALUATORS: dict[str, Callable[[AlertRule, Context], Condition | None]] = {
    RuleKind.LAG: lag,
    RuleKind.TASK_FAILED: task_failed,
    RuleKind.STALLED: stalled,
    RuleKind.RETENTION: binlog_retention,
    RuleKind.COMPARE_DIFF: compare_diff,
    RuleKind.QUARANTINE: quarantine,
}


def evaluate(rule: AlertRule, ctx: Context) -> Condition | None:
    return EVALUATORS[rule.kind](rule, ctx)
