"""Binlog retention against a real MariaDB: time left before the file a task's checkpoint needs is purged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from dts.localservers import MariaDBServer
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertEvent, AlertRule, RuleKind
from dts.sync.models import Checkpoint, SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import set_metrics

EXPIRE_SECONDS = 86400


@pytest.fixture
def binlog_expiry(mariadb: MariaDBServer) -> Iterator[None]:
    """Expire binlogs after a day (nothing on the test server is that old), restored afterwards."""
    conn = mariadb.connect()
    with conn.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.binlog_expire_logs_seconds")
        (before,) = cursor.fetchone()
        cursor.execute("SET GLOBAL binlog_expire_logs_seconds = %s", [EXPIRE_SECONDS])
    try:
        yield
    finally:
        with conn.cursor() as cursor:
            cursor.execute("SET GLOBAL binlog_expire_logs_seconds = %s", [before])
        conn.close()


def retention_rule(personas: Personas, task: SyncTask, threshold: float) -> AlertRule:
    return AlertRule.objects.create(workspace=personas.workspace, task=task, name="binlog purge ahead",
                                    kind=RuleKind.RETENTION, threshold=threshold)


def checkpoint_at(task: SyncTask, file: str) -> None:
    Checkpoint.objects.update_or_create(task=task, defaults={"state": {"phase": "stream",
                                                                       "position": {"file": file, "pos": 4}}})


def forget_cached_source_reads(client: redis.Redis, task: SyncTask) -> None:
    client.delete(f"dts:monitor:head:{task.source_id}", f"dts:monitor:binlogs:{task.source_id}")


def test_the_current_binlog_file_leaves_the_whole_expiry_period(
        personas: Personas, running_task: SyncTask, binlog_expiry: None, client_redis: redis.Redis,
        head: Callable[[], dict[str, Any]]) -> None:
    checkpoint_at(running_task, head()["file"])
    calm = retention_rule(personas, running_task, threshold=3600)
    DelayMonitor().run_once()
    assert not AlertEvent.objects.filter(rule=calm).exists()
    tight = AlertRule.objects.create(workspace=personas.workspace, task=running_task, name="tight",
                                     kind=RuleKind.RETENTION, threshold=EXPIRE_SECONDS + 100)
    DelayMonitor().run_once()
    assert AlertEvent.objects.get(rule=tight).value == EXPIRE_SECONDS


def test_a_closed_file_is_purged_expiry_seconds_after_the_monitor_saw_it_rotate(
        personas: Personas, running_task: SyncTask, binlog_expiry: None, client_redis: redis.Redis,
        mariadb: MariaDBServer, head: Callable[[], dict[str, Any]]) -> None:
    needed = head()["file"]
    checkpoint_at(running_task, needed)
    rule = retention_rule(personas, running_task, threshold=EXPIRE_SECONDS + 100)
    # An old last commit: the rotation the monitor saw is the better (later) lower bound, and wins.
    set_metrics(client_redis, running_task, position=head(), last_commit_time=time.time() - 1000)
    seen_open = time.time()
    DelayMonitor().run_once(seen_open)
    conn = mariadb.connect()
    conn.cursor().execute("FLUSH BINARY LOGS")  # rotate: the needed file is closed now
    conn.close()
    forget_cached_source_reads(client_redis, running_task)
    DelayMonitor().run_once(seen_open + 100)
    event = AlertEvent.objects.get(rule=rule)
    # Closed no earlier than when last seen open: expiry - 100 s left, give or take the clock.
    assert event.value is not None and abs(event.value - (EXPIRE_SECONDS - 100)) < 5
    assert needed in event.message


def test_without_a_rotation_seen_the_last_applied_commit_bounds_the_close_time(
        personas: Personas, running_task: SyncTask, binlog_expiry: None, client_redis: redis.Redis,
        mariadb: MariaDBServer, head: Callable[[], dict[str, Any]]) -> None:
    position = head()
    checkpoint_at(running_task, position["file"])
    conn = mariadb.connect()
    conn.cursor().execute("FLUSH BINARY LOGS")  # rotated before the monitor ever looked
    conn.close()
    now = time.time()
    set_metrics(client_redis, running_task, position=position, last_commit_time=now - 500)
    rule = retention_rule(personas, running_task, threshold=EXPIRE_SECONDS + 100)
    DelayMonitor().run_once(now)
    event = AlertEvent.objects.get(rule=rule)
    assert event.value is not None and abs(event.value - (EXPIRE_SECONDS - 500)) < 5


def test_an_already_purged_file_leaves_nothing(
        personas: Personas, running_task: SyncTask, binlog_expiry: None, client_redis: redis.Redis) -> None:
    checkpoint_at(running_task, "binlog.000000")  # older than any file the server still has
    rule = retention_rule(personas, running_task, threshold=60)
    DelayMonitor().run_once()
    event = AlertEvent.objects.get(rule=rule)
    assert event.value == 0 and "already purged" in event.message


def test_no_expiry_means_no_alert(personas: Personas, running_task: SyncTask, client_redis: redis.Redis,
                                  mariadb: MariaDBServer, head: Callable[[], dict[str, Any]]) -> None:
    conn = mariadb.connect()
    with conn.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.binlog_expire_logs_seconds, @@GLOBAL.expire_logs_days")
        seconds, days = cursor.fetchone()
    conn.close()
    if float(seconds) or float(days):
        pytest.skip("the test server expires binlogs by default")
    checkpoint_at(running_task, head()["file"])
    rule = retention_rule(personas, running_task, threshold=10**9)
    DelayMonitor().run_once()
    assert not AlertEvent.objects.filter(rule=rule).exists()
