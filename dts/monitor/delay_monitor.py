"""The delay monitor: every few seconds, measure each watched task, keep its history, evaluate
its alert rules and push its summary to the console.

Watched: tasks that are queued, running or paused, that failed recently, or that have an open
alert (so it can resolve). One task's trouble (an unreachable source, a surprise) is logged and
never stops the evaluation of the others. compare_diff rules about compare tasks (standalone
compares) are evaluated from their latest completed runs in the same pass.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import redis
from django.db.models import Q

from dts.monitor import compare_alerts, conf, history, lag, lifecycle, push, rules
from dts.monitor.models import AlertEvent, AlertRule, EventState
from dts.monitor.summary import task_summary
from dts.sync.lease import redis_client
from dts.sync.models import ACTIVE, Status, SyncTask

log = logging.getLogger("dts.monitor")
LOCK_KEY = "dts:monitor:evaluate:lock"
LOCK_TTL_MS = 60_000
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class DelayMonitor:
    def __init__(self, client: redis.Redis | None = None) -> None:
        self.client = client or redis_client()

    def run_exclusive(self) -> int:
        """run_once unless another evaluation is still going (beat fires every 5 s; a slow one must not pile up)."""
        token = secrets.token_hex(8)
        if not self.client.set(LOCK_KEY, token, nx=True, px=LOCK_TTL_MS):
            log.info("delay monitor: the previous evaluation is still running; skipping this one")
            return 0
        try:
            return self.run_once()
        finally:
            self.client.eval(_RELEASE, 1, LOCK_KEY, token)

    def run_once(self, now: float | None = None) -> int:
        """Evaluate every watched task once; the number of tasks evaluated."""
        now = time.time() if now is None else now
        moment = datetime.fromtimestamp(now, tz=UTC)
        failed_since = moment - timedelta(seconds=conf.failed_window_seconds())
        watched = (SyncTask.objects
                   .filter(Q(status__in=ACTIVE) | Q(status=Status.FAILED, updated_at__gte=failed_since)
                           | Q(alert_events__state=EventState.FIRING))
                   .distinct().select_related("source", "workspace"))
        tasks = list(watched)
        rules_by_workspace: dict[int, list[AlertRule]] = defaultdict(list)
        for rule in (AlertRule.objects.filter(enabled=True, workspace__in={t.workspace_id for t in tasks})
                     .prefetch_related("channels")):
            rules_by_workspace[rule.workspace_id].append(rule)
        evaluated = 0
        for task in tasks:
            try:
                self.evaluate_task(task, [r for r in rules_by_workspace[task.workspace_id] if r.applies_to(task)],
                                   now, moment)
                evaluated += 1
            except Exception:
                log.exception("delay monitor: evaluating task %s (%s) failed", task.pk, task.name)
        try:
            compare_alerts.evaluate_compare_rules(moment)
        except Exception:
            log.exception("delay monitor: evaluating the rules about compare tasks failed")
        self._close_events_of_disabled_rules(moment)
        return evaluated

    def evaluate_task(self, task: SyncTask, task_rules: list[AlertRule], now: float, moment: datetime) -> None:
        measured = lag.measure(task, self.client, now)
        history.record_lag(self.client, measured)
        context = rules.Context(task, measured, self.client, now)
        for rule in task_rules:
            lifecycle.apply(rule, task, rules.evaluate(rule, context), moment, self.client)
        push.to_task(task.pk, task_summary(task, measured.as_dict()))

    def _close_events_of_disabled_rules(self, moment: datetime) -> None:
        for event in AlertEvent.objects.filter(state=EventState.FIRING, rule__enabled=False).select_related("rule"):
            lifecycle.resolve_quietly(event, moment)
