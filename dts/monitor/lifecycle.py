"""From a rule's condition to alert events and messages.

- firing for `for_seconds` and no open event: open one and send it (unless silenced);
- still firing: update the value; send again once the repeat interval has passed;
- cleared: resolve the open event and send a resolved message if the firing one went out;
- silenced: events are still opened and resolved, nothing is sent.

Sends are Celery jobs per (event, channel) enqueued after commit, so a slow or broken channel
never holds up the monitor or the other channels.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from django.db import IntegrityError, transaction

from dts.live import publish
from dts.monitor.models import AlertEvent, AlertRule, EventState, Notice
from dts.monitor.rules import Condition
from dts.sync.models import SyncTask

log = logging.getLogger("dts.monitor")
BREACH_TTL_SECONDS = 86400


def breach_key(rule_id: int, task_id: int) -> str:
    """Since when the rule's condition has held for the task without a break (for 'for Y seconds')."""
    return f"dts:monitor:breach:{rule_id}:{task_id}"


def apply(rule: AlertRule, task: SyncTask, condition: Condition | None, now: datetime, client: redis.Redis) -> None:
    if condition is None:
        return  # the rule could not tell: keep whatever state the event is in
    key = breach_key(rule.pk, task.pk)
    open_events = AlertEvent.objects.filter(rule=rule, task=task, state=EventState.FIRING)
    if condition.firing:
        client.set(key, now.timestamp(), nx=True, ex=BREACH_TTL_SECONDS)
        client.expire(key, BREACH_TTL_SECONDS)
        since = float(client.get(key) or now.timestamp())
        if now.timestamp() - since < rule.for_seconds and not open_events.exists():
            return  # not for long enough yet
    else:
        client.delete(key)
        # The usual case, a healthy task: one read, no write transaction (SQLite would lock for it).
        if not open_events.exists():
            return
    with transaction.atomic():
        event = open_events.select_for_update().first()
        if condition.firing:
            if event is None:
                event = _open(rule, task, condition, now)
            else:
                event.update_value(condition.value, condition.message)
            if not rule.is_silenced(now) and event.due_for_repeat(now):
                _send(event, rule, Notice.FIRING, now)
        elif event is not None:
            event.resolve(now)
            _tell_console(event)
            # A resolved message only makes sense to those who heard it fire.
            if event.last_sent_at is not None and not rule.is_silenced(now):
                _send(event, rule, Notice.RESOLVED, now)


def resolve_quietly(event: AlertEvent, now: datetime) -> None:
    """For events whose rule was disabled: close them without messages."""
    event.resolve(now)
    _tell_console(event)


def _open(rule: AlertRule, task: SyncTask, condition: Condition, now: datetime) -> AlertEvent:
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(rule=rule, task=task, state=EventState.FIRING, value=condition.value,
                                              message=condition.message, fired_at=now)
    except IntegrityError:
        # Another evaluation opened it a moment ago: the constraint keeps one open event per rule and task.
        return AlertEvent.objects.select_for_update().get(rule=rule, task=task, state=EventState.FIRING)
    _tell_console(event)
    return event


def _send(event: AlertEvent, rule: AlertRule, notice: str, now: datetime) -> None:
    from dts.monitor.jobs import deliver_alert  # the jobs module imports the monitor, which imports this

    channel_ids = [channel.pk for channel in rule.channels.all() if channel.enabled]
    if not channel_ids:
        return  # nowhere to send: leave last_sent_at empty so a channel added later still hears it
    event_id = event.pk
    for channel_id in channel_ids:
        transaction.on_commit(lambda channel_id=channel_id: deliver_alert.delay(event_id, channel_id, notice))
    if notice == Notice.FIRING:
        event.mark_sent(now)
    log.info("alert %s %s: rule %s on task %s to %s channel(s)", event.pk, notice, rule.pk, event.task_id,
             len(channel_ids))


def _tell_console(event: AlertEvent) -> None:
    workspace_id = event.rule.workspace_id
    payload = {"type": "alert", "event": event.pk, "rule": event.rule_id, "rule_name": event.rule.name,
               "task": event.task_id, "state": event.state, "severity": event.rule.severity, "value": event.value}
    transaction.on_commit(lambda: publish.to_workspace(workspace_id, payload))
