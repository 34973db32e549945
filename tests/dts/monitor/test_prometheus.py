"""/metrics: refused without a token, per-task gauges with one, only the caller's workspaces."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from dts.datasources.models import Datasource
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertEvent, AlertRule, RuleKind
from dts.sync.models import Status, SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import make_task, set_metrics

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(personas: Personas, target: Datasource, client_redis: redis.Redis) -> None:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    task = make_task(personas, source, target, name='orders "eu"')
    set_metrics(client_redis, task, position={"lsn": "0/1"}, last_commit_time=time.time() - 7, events=1500,
                rows=3000)
    AlertRule.objects.create(workspace=personas.workspace, name="lag over 1s", kind=RuleKind.LAG, threshold=1)
    theirs_source = Datasource.objects.create(workspace=personas.other_workspace, name="s", engine="postgresql",
                                              host="127.0.0.1", port=5432)
    SyncTask.objects.create(workspace=personas.other_workspace, name="their-task", source=theirs_source,
                            target=theirs_source, status=Status.STOPPED)
    DelayMonitor().run_once()
    assert AlertEvent.objects.filter(task=task, state="firing").count() == 1


def test_anonymous_scrapes_are_refused(tasks: None) -> None:
    response = APIClient().get("/metrics")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer dts_not-a-token")
    assert bad.get("/metrics").status_code == 401


def test_a_token_lists_the_gauges_of_its_workspaces(personas: Personas, tasks: None) -> None:
    response = personas.client(personas.viewer).get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    for name, kind in (("dts_task_lag_seconds", "gauge"), ("dts_task_status", "gauge"),
                       ("dts_task_rows_applied_total", "counter"), ("dts_task_events_applied_total", "counter"),
                       ("dts_alerts_firing", "gauge")):
        assert f"# TYPE {name} {kind}" in text
    lines = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines() if not line.startswith("#")}
    labels = next(key for key in lines if key.startswith("dts_task_rows_applied_total"))
    assert 'task="orders \\"eu\\""' in labels and 'workspace="acme"' in labels and "task_id=" in labels
    assert lines[labels] == "3000"
    lag = next(value for key, value in lines.items() if key.startswith("dts_task_lag_seconds"))
    assert 6 <= float(lag) <= 15
    assert any(key.startswith("dts_task_status") and 'status="running"' in key and value == "1"
               for key, value in lines.items())
    assert next(value for key, value in lines.items() if key.startswith("dts_alerts_firing")) == "1"
    assert "their-task" not in text


def test_the_endpoint_can_be_made_public(settings: Any, tasks: None) -> None:
    settings.DTS_METRICS_PUBLIC = True
    response = APIClient().get("/metrics")
    assert response.status_code == 200 and "their-task" in response.content.decode()
