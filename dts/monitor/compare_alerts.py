"""Compare runs → 'compare_diff' alert events, through the same lifecycle and channels as every rule.

Which compare_diff rules a finished run drives:
- a rule aimed at a compare task (``AlertRule.compare_task``): the runs of that compare task, attached
  to a sync task or not; its event belongs to the compare task (``AlertEvent.compare_task``);
- a rule of the workspace (no task, no compare task): a standalone compare's runs (event on the
  compare task), and an attached compare's runs through its sync task (event on the sync task, as
  the delay monitor's evaluator rules.compare_diff does);
- a rule aimed at a sync task: the runs of compares attached to that task.

The event fires when the compare task's latest completed run found differences (the message names
the compare task, the run and the counts) and resolves after a clean run. A run's result is a
moment, not a duration, so for_seconds does not delay a compare task's event.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dts.monitor import lifecycle
from dts.monitor.models import AlertEvent, AlertRule, EventState, Notice, RuleKind
from dts.monitor.rules import Condition
from dts.sync.lease import redis_client
from dts.sync.models import SyncTask

log = logging.getLogger("dts.monitor")


def _condition(run: Any) -> Condition | None:
    if run is None:
        return None
    total = run.missing + run.extra + run.different
    return Condition(total > 0, float(total),
                     f"Compare '{run.compare_task.name}' run {run.pk} found {total} difference(s): {run.missing} "
                     f"missing in target, {run.extra} extra in target, {run.different} different."
                     if total else f"Compare '{run.compare_task.name}' run {run.pk} found no differences.")


def latest_condition(task: SyncTask) -> Condition | None:
    """The compare_diff condition from the task's latest completed compare run, or None if it has none."""
    from dts.compare.models import CompareRun, RunStatus

    return _condition(CompareRun.objects.filter(compare_task__sync_task=task, status=RunStatus.COMPLETED)
                      .select_related("compare_task").order_by("-finished_at", "-id").first())


def compare_task_condition(compare_task: Any) -> Condition | None:
    """The compare_diff condition from this compare task's latest completed run, or None if it has none."""
    from dts.compare.models import RunStatus

    return _condition(compare_task.runs.filter(status=RunStatus.COMPLETED).select_related("compare_task")
                      .order_by("-finished_at", "-id").first())


def aims_at(rule: AlertRule, compare_task: Any) -> bool:
    """Whether the rule's events are about this compare task itself (not about a sync task)."""
    if rule.workspace_id != compare_task.workspace_id or rule.kind != RuleKind.COMPARE_DIFF:
        return False
    if rule.compare_task_id is not None:
        return bool(rule.compare_task_id == compare_task.pk)
    return rule.task_id is None and compare_task.sync_task_id is None


def report_compare_run(run: Any) -> None:
    """Called by the compare job when a run has finished."""
    if run.status != "completed":
        return
    compare_task = run.compare_task
    rules = list(AlertRule.objects.filter(enabled=True, kind=RuleKind.COMPARE_DIFF,
                                          workspace_id=compare_task.workspace_id).prefetch_related("channels"))
    now = timezone.now()
    own = [rule for rule in rules if aims_at(rule, compare_task)]
    if own:
        condition = compare_task_condition(compare_task)
        for rule in own:
            apply(rule, compare_task, condition, now)
    task = compare_task.sync_task
    if task is not None:
        by_task = [rule for rule in rules if rule.applies_to(task)]
        if by_task:
            condition = latest_condition(task)
            client = redis_client()
            for rule in by_task:
                lifecycle.apply(rule, task, condition, now, client)


def apply(rule: AlertRule, compare_task: Any, condition: Condition | None, now: datetime) -> None:
    """lifecycle.apply for an event about a compare task: open, update, re-send, resolve. Messages go
    out through lifecycle's own _send (per-channel delivery jobs), as every other event's do."""
    if condition is None:
        return  # no completed run yet: nothing to tell
    open_events = AlertEvent.objects.filter(rule=rule, compare_task=compare_task, task__isnull=True,
                                            state=EventState.FIRING)
    if not condition.firing and not open_events.exists():
        return
    with transaction.atomic():
        event = open_events.select_for_update().first()
        if condition.firing:
            if event is None:
                event = _open(rule, compare_task, condition, now)
            else:
                event.update_value(condition.value, condition.message)
            if not rule.is_silenced(now) and event.due_for_repeat(now):
                lifecycle._send(event, rule, Notice.FIRING, now)
        elif event is not None:
            event.update_value(condition.value, condition.message)  # the resolved message names the clean run
            event.resolve(now)
            lifecycle._tell_console(event)
            if event.last_sent_at is not None and not rule.is_silenced(now):
                lifecycle._send(event, rule, Notice.RESOLVED, now)


def _open(rule: AlertRule, compare_task: Any, condition: Condition, now: datetime) -> AlertEvent:
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(rule=rule, compare_task=compare_task, state=EventState.FIRING,
                                              value=condition.value, message=condition.message, fired_at=now)
    except IntegrityError:
        # Opened a moment ago by another evaluation: one open event per rule and compare task.
        return AlertEvent.objects.select_for_update().get(rule=rule, compare_task=compare_task, task__isnull=True,
                                                          state=EventState.FIRING)
    lifecycle._tell_console(event)
    return event


def evaluate_compare_rules(now: datetime) -> int:
    """The delay monitor's pass over rules about compare tasks (a rule created after the run, a
    repeat interval, a report lost with its worker): the number of (rule, compare task) evaluated."""
    from dts.compare.models import CompareTask

    evaluated = 0
    rules = AlertRule.objects.filter(enabled=True, kind=RuleKind.COMPARE_DIFF, task__isnull=True
                                     ).select_related("compare_task").prefetch_related("channels")
    for rule in rules:
        if rule.compare_task is not None:
            subjects = [rule.compare_task]
        else:
            subjects = list(CompareTask.objects.filter(workspace_id=rule.workspace_id, sync_task__isnull=True,
                                                       runs__status="completed").distinct())
        for compare_task in subjects:
            try:
                apply(rule, compare_task, compare_task_condition(compare_task), now)
                evaluated += 1
            except Exception:
                log.exception("delay monitor: rule %s on compare task %s failed", rule.pk, compare_task.pk)
    return evaluated
