"""Compare runs → 'compare_diff' alert events, through the same lifecycle as every other rule.

A finished run of a compare attached to a sync task opens (or updates) the event of each enabled
compare_diff rule that applies to that task when it found differences, and resolves it when a
later run finds none. The delay monitor's evaluator (rules.compare_diff) reads the same latest
run, so the two never disagree. Events belong to a sync task (AlertEvent.task), so a standalone
compare (no sync task) is not alerted on.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from dts.monitor import lifecycle
from dts.monitor.models import AlertRule, RuleKind
from dts.monitor.rules import Condition
from dts.sync.lease import redis_client
from dts.sync.models import SyncTask

log = logging.getLogger("dts.monitor")


def latest_condition(task: SyncTask) -> Condition | None:
    """The compare_diff condition from the task's latest completed compare run, or None if it has none."""
    from dts.compare.models import CompareRun, RunStatus

    run = (CompareRun.objects.filter(compare_task__sync_task=task, status=RunStatus.COMPLETED)
           .select_related("compare_task").order_by("-finished_at", "-id").first())
    if run is None:
        return None
    total = run.missing + run.extra + run.different
    return Condition(total > 0, float(total),
                     f"Compare '{run.compare_task.name}' run {run.pk} found {total} difference(s): {run.missing} "
                     f"missing in target, {run.extra} extra in target, {run.different} different."
                     if total else f"Compare '{run.compare_task.name}' run {run.pk} found no differences.")


def report_compare_run(run: Any) -> None:
    """Called by the compare job when a run has finished."""
    task = run.compare_task.sync_task
    if task is None or run.status != "completed":
        return
    condition = latest_condition(task)
    rules = AlertRule.objects.filter(enabled=True, kind=RuleKind.COMPARE_DIFF, workspace_id=task.workspace_id)
    client = redis_client()
    now = timezone.now()
    for rule in rules:
        if rule.applies_to(task):
            lifecycle.apply(rule, task, condition, now, client)
