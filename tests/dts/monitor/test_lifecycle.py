"""The delay monitor against a real MariaDB source and a real Celery worker: lag is measured against
the source's binlog head, alerts fire once, repeat only after the interval, resolve, stay quiet
while silenced, and a broken channel does not hold up another."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from django.utils import timezone

from dts.datasources.models import Datasource
from dts.monitor import jobs, lag
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, DeliveryStatus, RuleKind
from dts.sync.lease import TaskLease
from dts.sync.models import QuarantinedRow, Status, SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import Receiver, make_task, set_metrics


def lag_rule(personas: Personas, task: SyncTask, *channels: AlertChannel, **fields: Any) -> AlertRule:
    rule = AlertRule.objects.create(workspace=personas.workspace, task=task, name=fields.pop("name", "lag over 5s"),
                                    kind=fields.pop("kind", RuleKind.LAG), threshold=fields.pop("threshold", 5),
                                    for_seconds=fields.pop("for_seconds", 0), **fields)
    rule.channels.set(channels)
    return rule


def webhook(personas: Personas, receiver: Receiver, name: str = "ops-hook") -> AlertChannel:
    return AlertChannel.objects.create(workspace=personas.workspace, name=name, kind="webhook", url=receiver.url)


def evaluate(now: float | None = None) -> int:
    return DelayMonitor().run_once(now)


def settle() -> None:
    """Give the worker time to send anything that should not be sent, so that its absence means something."""
    time.sleep(1.0)


def test_lag_fires_once_does_not_repeat_and_resolves_when_caught_up(
        personas: Personas, celery_worker: Any, running_task: SyncTask, receiver: Receiver,
        client_redis: redis.Redis, head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    applied = head()
    write_rows(3)  # the source moves on: the task's position is now behind the head
    assert head() != applied
    rule = lag_rule(personas, running_task, webhook(personas, receiver))
    set_metrics(client_redis, running_task, position=applied, last_commit_time=time.time() - 30)

    assert evaluate() == 1
    measured = lag.load(client_redis, running_task.pk)
    assert measured is not None and measured["state"] == "behind" and measured["caught_up"] is False
    assert 29 <= measured["lag_seconds"] <= 40
    event = AlertEvent.objects.get(rule=rule)
    assert event.state == "firing" and event.value is not None and event.value >= 29
    fired = receiver.wait_for(1)[0].json()
    assert fired["state"] == "firing" and fired["task"]["name"] == running_task.name

    # Still firing, within the repeat interval: recorded, not sent again.
    assert evaluate() == 1
    assert AlertEvent.objects.filter(rule=rule).count() == 1
    settle()
    assert len(receiver.requests) == 1
    assert AlertEvent.objects.get(rule=rule).times_sent == 1

    # The runner reaches the head: lag 0, the event resolves and the resolved message goes out.
    set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time() - 30)
    evaluate()
    measured = lag.load(client_redis, running_task.pk)
    assert measured is not None and measured["lag_seconds"] == 0 and measured["state"] == "caught_up"
    event.refresh_from_db()
    assert event.state == "resolved" and event.resolved_at is not None
    resolved = receiver.wait_for(2)[1].json()
    assert resolved["state"] == "resolved" and resolved["event_id"] == event.pk
    # The worker records a delivery once the receiver has answered: wait for it, not just for the request.
    sent = AlertDelivery.objects.filter(event=event, status=DeliveryStatus.SENT)
    deadline = time.monotonic() + 10
    while sent.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent.count() == 2


def test_a_firing_alert_is_sent_again_after_the_repeat_interval(
        personas: Personas, celery_worker: Any, running_task: SyncTask, receiver: Receiver,
        client_redis: redis.Redis, head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    applied = head()
    write_rows(1)
    rule = lag_rule(personas, running_task, webhook(personas, receiver), repeat_interval_seconds=60)
    now = time.time()
    set_metrics(client_redis, running_task, position=applied, last_commit_time=now - 30)
    evaluate(now)
    evaluate(now + 30)
    evaluate(now + 61)
    receiver.wait_for(2)
    settle()
    assert len(receiver.requests) == 2 and AlertEvent.objects.get(rule=rule).times_sent == 2


def test_an_idle_caught_up_task_shows_lag_zero_and_nothing_fires(
        personas: Personas, running_task: SyncTask, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    write_rows(1)
    # The last commit is an hour old, but nothing happened since: the task is at the head.
    set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time() - 3600)
    rule = lag_rule(personas, running_task)
    evaluate()
    measured = lag.load(client_redis, running_task.pk)
    assert measured is not None
    assert measured["lag_seconds"] == 0 and measured["caught_up"] is True and measured["state"] == "caught_up"
    assert not AlertEvent.objects.filter(rule=rule).exists()


def test_stalled_needs_a_live_lease_a_frozen_position_and_a_moving_source(
        personas: Personas, running_task: SyncTask, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    rule = lag_rule(personas, running_task, name="stalled 30s", kind=RuleKind.STALLED, threshold=30)
    frozen = head()
    set_metrics(client_redis, running_task, position=frozen, last_commit_time=time.time())
    write_rows(2)  # the source moves; the runner's position does not
    now = time.time()

    # No runner alive (no lease): a frozen position is not a stall but a stopped runner.
    evaluate(now)
    evaluate(now + 40)
    assert not AlertEvent.objects.filter(rule=rule).exists()

    lease = TaskLease(running_task.pk, ttl_seconds=60)
    assert lease.acquire()
    try:
        evaluate(now + 45)  # frozen since the first evaluation: 45 s, over the rule's 30 s
        event = AlertEvent.objects.get(rule=rule, state="firing")
        assert event.value is not None and event.value >= 30
        evaluate(now + 61)
        measured = lag.load(client_redis, running_task.pk)
        assert measured is not None and measured["state"] == "stalled" and measured["lease_held"] is True

        # The runner moves again: the stall resolves.
        set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time())
        evaluate(now + 62)
        event.refresh_from_db()
        assert event.state == "resolved"
    finally:
        lease.release()


def test_a_moving_position_is_not_stalled(
        personas: Personas, running_task: SyncTask, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    rule = lag_rule(personas, running_task, name="stalled 30s", kind=RuleKind.STALLED, threshold=30)
    lease = TaskLease(running_task.pk, ttl_seconds=60)
    assert lease.acquire()
    try:
        now = time.time()
        for step in range(4):
            position = head()
            write_rows(1)
            set_metrics(client_redis, running_task, position=position, last_commit_time=now)
            client_redis.delete(f"dts:monitor:head:{running_task.source_id}")  # see the new head at once
            evaluate(now + step * 20)
        assert not AlertEvent.objects.filter(rule=rule).exists()
    finally:
        lease.release()


def test_a_failing_channel_records_its_retries_and_does_not_block_another(
        personas: Personas, celery_worker: Any, running_task: SyncTask, receivers: Any, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None], monkeypatch: Any) -> None:
    monkeypatch.setattr(jobs.deliver_alert, "max_retries", 2)  # three attempts keep the test short
    broken, working = receivers(status=500, answer=b"internal error"), receivers()
    broken_channel, working_channel = webhook(personas, broken, "broken"), webhook(personas, working, "working")
    applied = head()
    write_rows(1)
    lag_rule(personas, running_task, broken_channel, working_channel)
    set_metrics(client_redis, running_task, position=applied, last_commit_time=time.time() - 30)
    evaluate()

    working.wait_for(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not AlertDelivery.objects.filter(
            channel=broken_channel, status=DeliveryStatus.FAILED).exists():
        time.sleep(0.1)
    attempts = list(AlertDelivery.objects.filter(channel=broken_channel).order_by("attempt")
                    .values_list("attempt", "status", "http_status"))
    assert attempts == [(1, "retrying", 500), (2, "retrying", 500), (3, "failed", 500)]
    assert len(broken.requests) == 3
    assert AlertDelivery.objects.get(channel=working_channel).status == DeliveryStatus.SENT
    assert len(working.requests) == 1


def test_a_silenced_rule_records_events_but_sends_nothing(
        personas: Personas, celery_worker: Any, running_task: SyncTask, receiver: Receiver, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    applied = head()
    write_rows(1)
    rule = lag_rule(personas, running_task, webhook(personas, receiver),
                    silenced_until=timezone.now() + timedelta(hours=1))
    set_metrics(client_redis, running_task, position=applied, last_commit_time=time.time() - 30)
    evaluate()
    event = AlertEvent.objects.get(rule=rule)
    assert event.state == "firing" and event.last_sent_at is None

    set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time())
    evaluate()
    event.refresh_from_db()
    assert event.state == "resolved"
    settle()
    assert receiver.requests == [] and not AlertDelivery.objects.exists()


def test_lag_must_hold_for_y_seconds_before_it_fires(personas: Personas, target: Datasource,
                                                      client_redis: redis.Redis, db: None) -> None:
    # A source engine without a head reader: lag is measured from the last commit time alone.
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    task = make_task(personas, source, target)
    rule = lag_rule(personas, task, threshold=5, for_seconds=60)
    now = time.time()
    set_metrics(client_redis, task, position={"lsn": "0/16B3748"}, last_commit_time=now - 30)
    evaluate(now)
    evaluate(now + 59)
    assert not AlertEvent.objects.filter(rule=rule).exists()
    evaluate(now + 61)
    assert AlertEvent.objects.filter(rule=rule, state="firing").exists()


def test_a_rule_without_a_task_covers_every_task_of_the_workspace(
        personas: Personas, target: Datasource, client_redis: redis.Redis, db: None) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    failed = make_task(personas, source, target, name="failed-one", status=Status.FAILED)
    SyncTask.objects.filter(pk=failed.pk).update(status_message="duplicate key on shop.orders")
    healthy = make_task(personas, source, target, name="healthy-one")
    rule = AlertRule.objects.create(workspace=personas.workspace, name="any task failed", kind=RuleKind.TASK_FAILED)
    assert evaluate() == 2
    event = AlertEvent.objects.get(rule=rule)
    assert event.task_id == failed.pk and "duplicate key" in event.message
    assert not AlertEvent.objects.filter(task=healthy).exists()

    # Restarted: the task is queued again and the alert resolves.
    SyncTask.objects.filter(pk=failed.pk).update(status=Status.QUEUED)
    evaluate()
    event.refresh_from_db()
    assert event.state == "resolved"


def test_quarantined_rows_above_n_fire(personas: Personas, target: Datasource, client_redis: redis.Redis,
                                       db: None) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    task = make_task(personas, source, target)
    rule = lag_rule(personas, task, name="dirty rows", kind=RuleKind.QUARANTINE, threshold=2)
    for number in range(2):
        QuarantinedRow.objects.create(task=task, source_table="shop.orders", key=[number], row={}, error="NUL")
    evaluate()
    assert not AlertEvent.objects.filter(rule=rule).exists()
    QuarantinedRow.objects.create(task=task, source_table="shop.orders", key=[9], row={}, error="NUL")
    evaluate()
    assert AlertEvent.objects.get(rule=rule).value == 3


def test_a_compare_diff_rule_stays_quiet_before_any_compare_run(personas: Personas, target: Datasource,
                                                               client_redis: redis.Redis, db: None) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    task = make_task(personas, source, target)
    AlertRule.objects.create(workspace=personas.workspace, task=task, name="diffs", kind=RuleKind.COMPARE_DIFF)
    assert evaluate() == 1
    assert not AlertEvent.objects.exists()


def test_an_unreachable_source_does_not_stop_the_other_tasks(
        personas: Personas, running_task: SyncTask, target: Datasource, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = Datasource.objects.create(workspace=personas.workspace, name="dead", engine="mysql", host="127.0.0.1",
                                     port=port, user="root")
    broken = make_task(personas, dead, target, name="dead-source")
    set_metrics(client_redis, broken, position={"file": "binlog.000001", "pos": 4}, last_commit_time=time.time())
    set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time())
    assert evaluate() == 2
    broken_state = lag.load(client_redis, broken.pk)
    assert broken_state is not None and "refused" in broken_state["head_error"]
    healthy = lag.load(client_redis, running_task.pk)
    assert healthy is not None and healthy["state"] == "caught_up"


def test_the_beat_job_skips_while_another_evaluation_runs(personas: Personas, target: Datasource,
                                                               client_redis: redis.Redis, db: None) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    make_task(personas, source, target)
    assert jobs.evaluate() == 1
    client_redis.set("dts:monitor:evaluate:lock", "someone-else", px=5000)
    assert jobs.evaluate() == 0


def test_disabling_a_rule_closes_its_open_events_without_messages(
        personas: Personas, celery_worker: Any, target: Datasource, receiver: Receiver,
        client_redis: redis.Redis) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    task = make_task(personas, source, target)
    rule = lag_rule(personas, task, webhook(personas, receiver), threshold=1)
    set_metrics(client_redis, task, position={"lsn": "0/1"}, last_commit_time=time.time() - 30)
    evaluate()
    receiver.wait_for(1)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)
    evaluate()
    assert AlertEvent.objects.get(rule=rule).state == "resolved"
    settle()
    assert len(receiver.requests) == 1
