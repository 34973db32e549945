"""/ws/tasks/<id>/: members get the task's live summary and its updates; outsiders are refused (4404)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from dts.accounts.models import ApiToken
from dts.asgi import application
from dts.datasources.models import Datasource
from dts.monitor.delay_monitor import DelayMonitor
from dts.sync.models import SyncTask, TableProgress, TaskLog
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import make_task, set_metrics

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def task(personas: Personas, target: Datasource) -> SyncTask:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    return make_task(personas, source, target)


async def _connect(path: str, key: str) -> tuple[WebsocketCommunicator, bool, Any]:
    communicator = WebsocketCommunicator(application, path, subprotocols=[f"bearer.{key}"],
                                         headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
    connected, code_or_protocol = await communicator.connect(timeout=5)
    return communicator, connected, code_or_protocol


def test_an_outsider_is_refused(personas: Personas, task: SyncTask) -> None:
    _, key = ApiToken.issue(personas.outsider, "ws")

    async def scenario() -> None:
        _, connected, code = await _connect(f"/ws/tasks/{task.pk}/", key)
        assert not connected and code == 4404
        _, connected, code = await _connect("/ws/tasks/999999/", key)
        assert not connected and code == 4404

    async_to_sync(scenario)()


def test_a_member_receives_the_summary_then_the_monitors_updates(personas: Personas, task: SyncTask,
                                                                 client_redis: redis.Redis) -> None:
    _, key = ApiToken.issue(personas.viewer, "ws")
    TaskLog.objects.create(task=task, level="info", message="phase: stream")
    TableProgress.objects.create(task=task, source_table="shop.orders", rows_done=40, rows_estimate=100,
                                 chunks_done=4, chunks_total=4)
    TableProgress.objects.create(task=task, source_table="shop.items", rows_done=5, rows_estimate=50,
                                 chunks_done=1, chunks_total=5)
    set_metrics(client_redis, task, position={"lsn": "0/1"}, last_commit_time=time.time() - 4, events=10, rows=10)

    async def scenario() -> None:
        communicator, connected, _ = await _connect(f"/ws/tasks/{task.pk}/", key)
        assert connected
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "task_metrics" and first["task"] == task.pk and first["status"] == "running"
        assert first["logs"][-1]["message"] == "phase: stream"
        progress = first["progress"]
        assert progress["tables"] == 2 and progress["tables_finished"] == 1 and progress["rows_done"] == 45
        await database_sync_to_async(DelayMonitor().run_once)()
        update = await communicator.receive_json_from(timeout=5)
        assert update["type"] == "task_metrics" and update["task"] == task.pk
        assert 3 <= update["lag_seconds"] <= 15 and update["events_applied"] == 10
        assert {"state", "events_per_second", "rows_per_second", "progress", "logs"} <= set(update)
        await communicator.disconnect()

    async_to_sync(scenario)()
