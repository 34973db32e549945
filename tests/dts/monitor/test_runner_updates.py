"""What a runner reports and how the monitor reads it: rates in the metrics hash (API, console and
/metrics agree), live pushes to task.<id> (coalesced, spaced, phase changes at once, failures
harmless), and a stall measured only while the source is ahead."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from connectors.types import TableId
from dts.datasources.models import Datasource
from dts.monitor import lag
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertEvent, AlertRule, RuleKind
from dts.monitor.prometheus import exposition
from dts.monitor.push import TaskUpdates, task_group
from dts.sync.lease import TaskLease
from dts.sync.models import SyncTask, TableProgress, TaskLog
from dts.sync.observer import DatabaseObserver, metrics_key
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import make_task, set_metrics

pytestmark = pytest.mark.django_db(transaction=True)
POSITION = {"file": "binlog.000001", "pos": 400}


@pytest.fixture
def task(personas: Personas, target: Datasource) -> SyncTask:
    # A source engine without a head reader: the monitor measures rates and counters, no lag.
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    return make_task(personas, source, target)


def stored(client: redis.Redis, task: SyncTask) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in client.hgetall(metrics_key(task.pk)).items()}


def test_the_runner_writes_its_rates_and_the_monitor_the_api_and_metrics_show_them(
        personas: Personas, task: SyncTask, client_redis: redis.Redis) -> None:
    client_redis.hset(metrics_key(task.pk), mapping={"events_per_second": 999, "rows_per_second": 999})
    observer = DatabaseObserver(task)
    observer.applied(10, 20, POSITION, time.time())
    first = stored(client_redis, task)
    assert first["events_applied"] == "10" and first["rows_applied"] == "20"
    assert "events_per_second" not in first  # a previous runner's rates are gone; this one has none yet

    window_started = float(first["updated_at"])
    observer.applied(40, 80, None, None)  # within the second: counted, not written yet
    assert stored(client_redis, task)["events_applied"] == "10"
    time.sleep(1.05)
    observer.applied(10, 20, {"file": "binlog.000001", "pos": 900}, time.time())
    second = stored(client_redis, task)
    elapsed = float(second["updated_at"]) - window_started
    assert second["events_applied"] == "60" and second["rows_applied"] == "120"
    assert float(second["events_per_second"]) == pytest.approx(50 / elapsed, abs=0.01)
    assert float(second["rows_per_second"]) == pytest.approx(100 / elapsed, abs=0.01)
    assert '"pos": 900' in second["position"]

    # The monitor takes the runner's own rates while they are fresh ...
    now = time.time()
    DelayMonitor().run_once(now)
    viewer = personas.client(personas.viewer)
    answer = viewer.get(f"/api/tasks/{task.pk}/metrics/")
    assert answer.status_code == 200 and answer.json() == viewer.get(f"/api/task-metrics/{task.pk}/").json()
    assert personas.client(personas.outsider).get(f"/api/tasks/{task.pk}/metrics/").status_code == 404
    assert viewer.get(f"/api/tasks/{task.pk}/metrics/?since=yesterday").status_code == 400
    current = answer.json()["current"]
    assert current["events_per_second"] == pytest.approx(float(second["events_per_second"]))
    assert current["rows_per_second"] == pytest.approx(float(second["rows_per_second"]))
    text = exposition(SyncTask.objects.filter(pk=task.pk))
    assert f'dts_task_rows_per_second{{task_id="{task.pk}"' in text
    rows_line = next(line for line in text.splitlines() if line.startswith("dts_task_rows_per_second{"))
    assert float(rows_line.rsplit(" ", 1)[1]) == pytest.approx(current["rows_per_second"])
    # ... and once the runner has gone quiet, what the counters did between evaluations: nothing.
    DelayMonitor().run_once(now + 30)
    later = lag.load(client_redis, task.pk)
    assert later is not None and later["events_per_second"] == 0 and later["rows_per_second"] == 0


def _listen(task_id: int, act: Callable[[], None], until: Callable[[list[dict[str, Any]]], bool],
            timeout: float = 10) -> list[dict[str, Any]]:
    """Join task.<id> on the real channel layer, run act, collect pushes until `until` says enough."""
    layer = get_channel_layer()

    async def scenario() -> list[dict[str, Any]]:
        channel = await layer.new_channel()
        await layer.group_add(task_group(task_id), channel)
        act()
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not until(received):
            assert time.monotonic() < deadline, received
            message = await layer.receive(channel)
            assert message["type"] == "task.update"
            received.append(message["event"])
        await layer.group_discard(task_group(task_id), channel)
        return received

    return async_to_sync(scenario)()


def test_runner_updates_are_coalesced_spaced_and_phase_changes_go_at_once() -> None:
    updates = TaskUpdates(424242, min_interval=0.3)

    def burst() -> None:
        updates.update("phase", force=True, phase="stream", log_line={"at": "t", "level": "info",
                                                                       "message": "phase: stream"})
        for number in range(1, 201):  # 200 batches in about a second
            updates.update("applied", events_applied=number, rows_applied=2 * number, position={"pos": number})
            if number % 50 == 0:
                updates.update("tables", table={"table": "shop.orders", "rows_done": number, "chunks_done": 1,
                                                "chunks_total": 4})
                updates.update("logs", log_line={"at": "t", "level": "info", "message": f"line {number}"})
            time.sleep(0.005)
        updates.update("phase", force=True, phase="completed")

    started = time.time()
    received = _listen(424242, burst, lambda got: bool(got) and got[-1]["phase"] == "completed"
                       and got[-1]["events_applied"] == 200)
    assert received[0]["phase"] == "stream" and received[0]["at"] - started < 0.2  # at once
    assert 3 <= len(received) <= 10, [m["changed"] for m in received]  # not 200
    last = received[-1]
    assert last["events_applied"] == 200 and last["rows_applied"] == 400 and last["position"] == {"pos": 200}
    assert [m["events_applied"] for m in received] == sorted(m["events_applied"] for m in received)
    # Nothing is lost in the coalescing: every log line and the table's last state arrive once.
    lines = [line["message"] for m in received for line in m["logs"]]
    assert lines == ["phase: stream", "line 50", "line 100", "line 150", "line 200"]
    assert [t["rows_done"] for m in received for t in m["tables"]][-1] == 200
    for before, after in itertools.pairwise(received):
        if "phase" not in after["changed"]:
            assert after["at"] - before["at"] >= 0.29, (before["at"], after["at"])
    deadline = time.monotonic() + 5
    while updates.sent < len(received) and time.monotonic() < deadline:
        time.sleep(0.01)  # the sender counts a push after the layer took it
    assert updates.sent == len(received) and updates.failed == 0


def test_a_failed_push_is_logged_at_debug_and_never_fails_the_run(
        task: SyncTask, client_redis: redis.Redis, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}  # nothing listens
    caplog.set_level(logging.DEBUG, logger="dts.monitor")
    observer = DatabaseObserver(task)
    observer.phase("snapshot")
    observer.table_progress(TableId("shop", "orders"), 10, 100, 1, 10)
    observer.log("info", "hello")
    observer.applied(5, 5, POSITION, time.time())
    deadline = time.monotonic() + 10
    while observer.updates.failed < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert observer.updates.failed >= 2 and observer.updates.sent == 0
    assert any("live push failed" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    # What the run reports is stored all the same.
    assert TaskLog.objects.filter(task=task, message="phase: snapshot").exists()
    assert TableProgress.objects.get(task=task).rows_done == 10
    assert stored(client_redis, task)["events_applied"] == "5"


def test_a_stall_counts_only_while_the_source_is_ahead(
        personas: Personas, running_task: SyncTask, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]], write_rows: Callable[[int], None]) -> None:
    write_rows(1)
    rule = AlertRule.objects.create(workspace=personas.workspace, task=running_task, name="stalled 30s",
                                    kind=RuleKind.STALLED, threshold=30)
    lease = TaskLease(running_task.pk, ttl_seconds=120)
    assert lease.acquire()
    try:
        caught_up = head()
        set_metrics(client_redis, running_task, position=caught_up, last_commit_time=time.time())
        now = time.time()
        DelayMonitor().run_once(now)
        DelayMonitor().run_once(now + 100)  # idle and caught up for 100 s: the position has not moved
        write_rows(1)  # the source moves on; the runner has not reported the batch yet
        client_redis.delete(f"dts:monitor:head:{running_task.source_id}")
        DelayMonitor().run_once(now + 101)
        measured = lag.load(client_redis, running_task.pk)
        assert measured is not None and measured["caught_up"] is False
        assert measured["position_unchanged_seconds"] >= 100 and measured["frozen_behind_seconds"] == 0
        assert not AlertEvent.objects.filter(rule=rule).exists()  # a moment behind is not 100 s stalled
        DelayMonitor().run_once(now + 135)  # still there 34 s later: that is a stall
        event = AlertEvent.objects.get(rule=rule, state="firing")
        assert event.value == pytest.approx(34, abs=0.01)
    finally:
        lease.release()
