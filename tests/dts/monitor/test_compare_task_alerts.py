"""compare_diff rules about compare tasks: a standalone compare (no sync task) fires when a run finds
differences and resolves after a clean run, through the real channels (a webhook receiver), run by a
real Celery worker against MariaDB and PostgreSQL; rules are validated; the delay monitor evaluates
a rule created after the run; one open event per rule and compare task."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from dts.compare.models import CompareRun, CompareTask
from dts.datasources.models import Datasource
from dts.localservers import PostgresServer
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertChannel, AlertEvent, AlertRule, EventState, RuleKind
from dts.sync.models import SyncTask
from tests.dts.compare.conftest import orders, pg_sql, plant  # noqa: F401 - the orders fixture
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import Receiver
from tests.dts.sync.conftest import mysql_source, pg_target, wait_for  # noqa: F401 - fixtures

pytestmark = [pytest.mark.timeout(300)]


def run_to_end(personas: Personas, task: CompareTask) -> dict[str, Any]:
    client = personas.client(personas.operator)
    response = client.post(f"/api/compare-tasks/{task.pk}/run/")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    wait_for(lambda: CompareRun.objects.get(pk=run_id).is_finished, 120, "the compare run")
    return client.get(f"/api/compare-runs/{run_id}/").json()  # type: ignore[no-any-return]


def standalone(personas: Personas, source: Datasource, target: Datasource, db: str, name: str = "nightly check"
               ) -> CompareTask:
    return CompareTask.objects.create(workspace=personas.workspace, name=name, source=source, target=target,
                                      tables=[f"{db}.orders"], options={"chunk_size": 400})


def test_a_standalone_compare_fires_through_the_channel_and_a_clean_run_resolves_it(
        personas: Personas, celery_worker: Any, receiver: Receiver, mysql_source: Datasource,  # noqa: F811
        pg_target: Datasource, mysql_db: str, pg_db: str, orders: str, postgres: PostgresServer  # noqa: F811
) -> None:
    task = standalone(personas, mysql_source, pg_target, mysql_db)
    channel = AlertChannel.objects.create(workspace=personas.workspace, name="ops", kind="webhook", url=receiver.url)
    client = personas.client(personas.operator)
    response = client.post("/api/alert-rules/", {"workspace": personas.workspace.pk, "name": "nightly diffs",
                                                 "kind": "compare_diff", "compare_task": task.pk,
                                                 "channels": [channel.pk]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["compare_task"] == task.pk and response.json()["task"] is None
    rule = AlertRule.objects.get(pk=response.json()["id"])

    plant(postgres, pg_db, mysql_db)  # 2 updates, 1 delete, 1 insert at the target
    run = run_to_end(personas, task)
    assert run["counts"] == {"missing": 1, "extra": 1, "different": 2}
    event = wait_for(lambda: AlertEvent.objects.filter(rule=rule).first(), 30, "the alert event")
    assert (event.task, event.compare_task, event.state, event.value) == (None, task, EventState.FIRING, 4.0)
    body = receiver.wait_for(1)[0].json()
    assert body["state"] == "firing" and body["rule"]["name"] == "nightly diffs"
    assert "nightly check" in body["task"]["name"] and body["task"]["id"] is None
    assert "4 difference(s): 1 missing in target, 1 extra in target, 2 different" in body["message"]
    assert "nightly check" in body["text"] and body["url"].endswith("/compare")

    # The events API shows it, named by its compare task.
    listed = personas.client(personas.viewer).get(f"/api/alert-events/?rule={rule.pk}").json()["results"]
    assert [(e["compare_task"], e["compare_task_name"], e["task"]) for e in listed] == [(task.pk, task.name, None)]
    # The delay monitor evaluates the same latest run: the event stays open, nothing is sent again.
    DelayMonitor().run_once()
    assert AlertEvent.objects.get(pk=event.pk).state == EventState.FIRING and len(receiver.requests) == 1

    operator = personas.client(personas.operator)
    repair_id = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"all": True}, format="json").json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{repair_id}/").json()["status"] == "completed", 60, "repair")
    clean = run_to_end(personas, task)
    assert clean["counts"] == {"missing": 0, "extra": 0, "different": 0}
    wait_for(lambda: AlertEvent.objects.get(pk=event.pk).state == EventState.RESOLVED, 30, "the alert to resolve")
    resolved = receiver.wait_for(2)[1].json()
    assert resolved["state"] == "resolved" and "found no differences" in resolved["message"]
    assert AlertEvent.objects.filter(rule=rule).count() == 1


def test_a_workspace_rule_covers_standalone_compares_and_the_monitor_fires_a_rule_made_after_the_run(
        personas: Personas, celery_worker: Any, mysql_source: Datasource, pg_target: Datasource,  # noqa: F811
        mysql_db: str, pg_db: str, orders: str, postgres: PostgresServer) -> None:  # noqa: F811
    task = standalone(personas, mysql_source, pg_target, mysql_db)
    pg_sql(postgres, pg_db, f'DELETE FROM "{mysql_db}".orders WHERE id = 5')
    assert run_to_end(personas, task)["counts"]["missing"] == 1
    assert not AlertEvent.objects.exists()  # no rule yet
    everywhere = AlertRule.objects.create(workspace=personas.workspace, name="all diffs", kind=RuleKind.COMPARE_DIFF)
    DelayMonitor().run_once()
    event = AlertEvent.objects.get(rule=everywhere)
    assert event.compare_task == task and event.task is None and event.value == 1.0
    assert f"Compare '{task.name}'" in event.message and "1 missing in target" in event.message
    # Not twice: the database keeps one open event per rule and compare task.
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertEvent.objects.create(rule=everywhere, compare_task=task, message="again")
    # A rule about a compare task is not about any sync task.
    sync = SyncTask.objects.create(workspace=personas.workspace, name="orders sync", source=mysql_source,
                                   target=pg_target, mode="full", tables=[f"{mysql_db}.orders"])
    aimed = AlertRule.objects.create(workspace=personas.workspace, name="aimed", kind=RuleKind.COMPARE_DIFF,
                                     compare_task=task)
    assert everywhere.applies_to(sync) and not aimed.applies_to(sync)


def test_rules_about_compare_tasks_are_validated(personas: Personas, mysql_source: Datasource,  # noqa: F811
                                                 pg_target: Datasource, mysql_db: str) -> None:  # noqa: F811
    task = standalone(personas, mysql_source, pg_target, mysql_db)
    sync = SyncTask.objects.create(workspace=personas.workspace, name="orders sync", source=mysql_source,
                                   target=pg_target, mode="full", tables=[f"{mysql_db}.orders"])
    client = personas.client(personas.operator)
    base = {"workspace": personas.workspace.pk, "compare_task": task.pk}
    lag = client.post("/api/alert-rules/", base | {"name": "lag", "kind": "lag", "threshold": 5}, format="json")
    assert lag.status_code == 400 and "compare_diff" in lag.json()["compare_task"][0]
    both = client.post("/api/alert-rules/", base | {"name": "both", "kind": "compare_diff", "task": sync.pk},
                       format="json")
    assert both.status_code == 400 and "not both" in both.json()["compare_task"][0]
    outsider = personas.client(personas.outsider)
    spy = outsider.post("/api/alert-rules/", {"workspace": personas.other_workspace.pk, "name": "spy",
                                              "kind": "compare_diff", "compare_task": task.pk}, format="json")
    assert spy.status_code == 400 and "compare_task" in spy.json()
    assert not AlertRule.objects.exists()
