"""Compare tasks through the API, run on a real Celery worker against MariaDB and PostgreSQL:
scoping and validation, a run with progress and counts, paginated and filtered differences, repair
with re-verify, SQL export, the compare_diff alert, and scheduled runs."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.pipeline.task import TaskRunner
from dts.accounts.models import AuditLog
from dts.compare import runner
from dts.compare.jobs import start_scheduled
from dts.compare.models import CompareChunk, CompareRun, CompareTask
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertEvent, AlertRule, EventState, RuleKind
from dts.sync.checkpoints import DatabaseCheckpointStore
from dts.sync.models import Checkpoint, SyncTask
from dts.sync.specs import spec_for
from tests.dts.compare.conftest import ROWS, pg_sql, plant
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for

pytestmark = [pytest.mark.timeout(300)]


def create_task(personas: Personas, source: Datasource, target: Datasource, db: str, **extra: Any) -> dict[str, Any]:
    client = personas.client(personas.operator)
    body = {"workspace": personas.workspace.pk, "name": "orders check", "source": source.pk, "target": target.pk,
            "tables": [f"{db}.orders"], "mode": "full", "options": {"chunk_size": 400}, **extra}
    response = client.post("/api/compare-tasks/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def run_to_end(personas: Personas, task_id: int) -> dict[str, Any]:
    client = personas.client(personas.operator)
    response = client.post(f"/api/compare-tasks/{task_id}/run/")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    wait_for(lambda: CompareRun.objects.get(pk=run_id).is_finished, 120, "the compare run")
    return client.get(f"/api/compare-runs/{run_id}/").json()  # type: ignore[no-any-return]


def test_validation_names_the_field(personas: Personas, mysql_source: Datasource, pg_target: Datasource,
                                    mysql_db: str) -> None:
    client = personas.client(personas.operator)
    base = {"workspace": personas.workspace.pk, "name": "x", "source": mysql_source.pk, "target": pg_target.pk}
    cases: list[tuple[dict[str, Any], str]] = [({"tables": []}, "tables"), ({"tables": ["nodot"]}, "tables"),
             ({"tables": [f"{mysql_db}.t"], "mode": "fast"}, "mode"),
             ({"tables": [f"{mysql_db}.t"], "options": {"chunk_size": 0}}, "options"),
             ({"tables": [f"{mysql_db}.t"], "options": {"speed": 3}}, "options"),
             ({"tables": [f"{mysql_db}.t"], "schedule": "every day"}, "schedule")]
    for extra, field in cases:
        response = client.post("/api/compare-tasks/", {**base, **extra}, format="json")
        assert response.status_code == 400 and field in response.json(), (extra, response.content)
    other = Datasource.objects.create(workspace=personas.other_workspace, name="theirs", engine="mysql",
                                      host="127.0.0.1", port=3306, user="x")
    response = client.post("/api/compare-tasks/", {**base, "tables": [f"{mysql_db}.t"], "target": other.pk},
                           format="json")
    assert response.status_code == 400 and "target" in response.json()


def test_scoping_outsiders_see_nothing_and_viewers_cannot_run(personas: Personas, mysql_source: Datasource,
                                                              pg_target: Datasource, mysql_db: str) -> None:
    task = create_task(personas, mysql_source, pg_target, mysql_db)
    outsider = personas.client(personas.outsider)
    assert outsider.get(f"/api/compare-tasks/{task['id']}/").status_code == 404
    assert outsider.get("/api/compare-tasks/").json()["count"] == 0
    assert outsider.post(f"/api/compare-tasks/{task['id']}/run/").status_code == 404
    viewer = personas.client(personas.viewer)
    assert viewer.get(f"/api/compare-tasks/{task['id']}/").status_code == 200
    assert viewer.post(f"/api/compare-tasks/{task['id']}/run/").status_code == 403
    assert personas.client(personas.owner).get("/api/compare-runs/").status_code == 200
    assert AuditLog.objects.filter(action="create", object_id=str(task["id"])).exists()


def test_run_reports_differences_then_repair_makes_reverify_clean(
        personas: Personas, celery_worker: Any, mysql_source: Datasource, pg_target: Datasource, mysql_db: str,
        pg_db: str, orders: str, postgres: PostgresServer) -> None:
    task = create_task(personas, mysql_source, pg_target, mysql_db)
    clean = run_to_end(personas, task["id"])
    assert clean["status"] == "completed", clean
    assert clean["counts"] == {"missing": 0, "extra": 0, "different": 0}
    assert clean["progress"]["chunks_done"] == clean["progress"]["chunks_total"] >= 3
    assert clean["progress"]["rows_done"] == ROWS
    assert clean["duration_seconds"] > 0

    plant(postgres, pg_db, mysql_db)
    run = run_to_end(personas, task["id"])
    assert run["counts"] == {"missing": 1, "extra": 1, "different": 2}, run
    client = personas.client(personas.viewer)
    listed = client.get(f"/api/compare-runs/{run['id']}/diffs/").json()
    assert listed["count"] == 4
    by_id = {d["key"]["id"]: d for d in listed["results"]}
    assert by_id[10]["kind"] == "different" and by_id[10]["columns"] == ["amount"]
    assert by_id[10]["table"] == f"{mysql_db}.orders" and by_id[10]["source_table"] == f"{mysql_db}.orders"
    assert float(by_id[10]["target_row"]["amount"]) == float(by_id[10]["source_row"]["amount"]) + 1
    assert by_id[1000]["kind"] == "missing" and by_id[1000]["target_row"] is None
    assert by_id[99999]["kind"] == "extra" and by_id[99999]["source_row"] is None
    different = client.get(f"/api/compare-runs/{run['id']}/diffs/", {"kind": "different"}).json()
    assert sorted(d["key"]["id"] for d in different["results"]) == [10, 700]
    assert client.get(f"/api/compare-runs/{run['id']}/diffs/", {"table": "nope.orders"}).json()["count"] == 0
    assert set(listed) == {"count", "next", "previous", "results"}  # paginated (50 a page)
    assert client.get(f"/api/compare-runs/{run['id']}/diffs/", {"page": 2}).status_code == 404
    assert client.get(f"/api/compare-runs/?compare_task={task['id']}").json()["count"] == 2

    # Review first: SQL only, nothing written.
    operator = personas.client(personas.operator)
    response = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"all": True, "apply": False}, format="json")
    assert response.status_code == 202, response.content
    review_id = response.json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{review_id}/").json()["status"] == "completed", 60, "review")
    text = operator.get(f"/api/repair-runs/{review_id}/sql/")
    assert text["Content-Type"].startswith("text/plain")
    sql_text = text.content.decode()
    assert sql_text.count("INSERT INTO") == 3 and sql_text.count("DELETE FROM") == 1
    assert f'"{mysql_db}"."orders"' in sql_text
    assert pg_sql(postgres, pg_db, f'SELECT count(*) FROM "{mysql_db}".orders WHERE id = 99999') == [(1,)]

    # Apply a selection, then the rest.
    first = by_id[10]["id"]
    response = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"diff_ids": [first]}, format="json")
    assert response.status_code == 202
    repair_id = response.json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{repair_id}/").json()["status"] == "completed", 60, "repair")
    done = operator.get(f"/api/repair-runs/{repair_id}/").json()
    assert (done["requested"], done["repaired"], done["failed"], done["verified_clean"]) == (1, 1, 0, True)
    response = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"all": True}, format="json")
    repair_id = response.json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{repair_id}/").json()["status"] == "completed", 60, "repair")
    assert operator.get(f"/api/repair-runs/{repair_id}/").json()["verified_clean"] is True
    assert all(d["repaired"] for d in client.get(f"/api/compare-runs/{run['id']}/diffs/").json()["results"])
    again = run_to_end(personas, task["id"])
    assert again["counts"] == {"missing": 0, "extra": 0, "different": 0}
    assert AuditLog.objects.filter(action="compare repair").count() == 3
    assert AuditLog.objects.filter(action="compare run").count() == 3


def test_bad_repair_requests_are_refused(personas: Personas, celery_worker: Any, mysql_source: Datasource,
                                         pg_target: Datasource, mysql_db: str, orders: str) -> None:
    task = create_task(personas, mysql_source, pg_target, mysql_db)
    run = run_to_end(personas, task["id"])
    operator = personas.client(personas.operator)
    assert operator.post(f"/api/compare-runs/{run['id']}/repair/", {}, format="json").status_code == 400
    response = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"diff_ids": [123456]}, format="json")
    assert response.status_code == 400 and "diff_ids" in response.json()
    assert personas.client(personas.viewer).post(f"/api/compare-runs/{run['id']}/repair/", {"all": True},
                                                 format="json").status_code == 403
    assert operator.post("/api/compare-runs/", {}, format="json").status_code == 405


def test_a_run_with_differences_fires_the_compare_diff_alert_and_a_clean_one_resolves_it(
        personas: Personas, celery_worker: Any, mysql_source: Datasource, pg_target: Datasource, mysql_db: str,
        pg_db: str, orders: str, postgres: PostgresServer) -> None:
    sync = SyncTask.objects.create(workspace=personas.workspace, name="orders sync", source=mysql_source,
                                   target=pg_target, mode="full", tables=[f"{mysql_db}.orders"])
    rule = AlertRule.objects.create(workspace=personas.workspace, name="diffs", kind=RuleKind.COMPARE_DIFF)
    # Attached to the sync task: its tables (no list of our own) and its datasources.
    task = create_task(personas, mysql_source, pg_target, mysql_db, sync_task=sync.pk, tables=[])
    assert CompareTask.objects.get(pk=task["id"]).mappings()[0].target.name == "orders"
    plant(postgres, pg_db, mysql_db)
    run = run_to_end(personas, task["id"])
    assert run["counts"]["different"] == 2
    # The alert follows the run's completion (same job, a moment later).
    event = wait_for(lambda: AlertEvent.objects.filter(rule=rule, task=sync).first(), 30, "the alert event")
    assert event.state == EventState.FIRING and event.value == 4.0 and "4 difference" in event.message
    # The delay monitor evaluates the same latest run: it keeps the event open rather than resolving it.
    assert DelayMonitor().run_once() == 1  # the task was evaluated, without error
    assert AlertEvent.objects.get(pk=event.pk).state == EventState.FIRING
    operator = personas.client(personas.operator)
    repair_id = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"all": True}, format="json").json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{repair_id}/").json()["status"] == "completed", 60, "repair")
    run_to_end(personas, task["id"])
    wait_for(lambda: AlertEvent.objects.get(pk=event.pk).state == EventState.RESOLVED, 30, "the alert to resolve")
    assert AlertEvent.objects.filter(rule=rule, task=sync).count() == 1


def test_scheduled_compares_start_when_due(personas: Personas, mysql_source: Datasource, pg_target: Datasource,
                                           mysql_db: str, redis_server: Any) -> None:
    every_minute = create_task(personas, mysql_source, pg_target, mysql_db, schedule="* * * * *")
    later = (datetime.now(UTC).hour + 12) % 24  # a daily schedule that is not due now
    nightly = create_task(personas, mysql_source, pg_target, mysql_db, name="nightly", schedule=f"0 {later} * * *")
    assert start_scheduled() == 1
    assert CompareRun.objects.filter(compare_task_id=every_minute["id"], triggered_by="schedule").count() == 1
    assert not CompareRun.objects.filter(compare_task_id=nightly["id"]).exists()
    assert start_scheduled() == 0  # not twice in the same minute (and the first is still queued)


def test_a_run_resumes_chunk_by_chunk_after_a_worker_dies(
        personas: Personas, mysql_source: Datasource, pg_target: Datasource, mysql_db: str, orders: str,
        request: pytest.FixtureRequest, transactional_db: None) -> None:
    task = CompareTask.objects.create(workspace=personas.workspace, name="resume", source=mysql_source,
                                      target=pg_target, tables=[f"{mysql_db}.orders"], options={"chunk_size": 300})
    run = CompareRun.objects.create(compare_task=task)
    runner.plan_run(run.pk)  # chunk jobs are queued, but no worker runs yet
    chunks = list(run.chunks.order_by("index"))
    assert len(chunks) >= 4
    runner.run_chunk(chunks[0].pk)  # this worker did one chunk...
    CompareChunk.objects.filter(pk=chunks[1].pk).update(status=CompareChunk.Status.RUNNING)  # ...and died on the next
    run.refresh_from_db()
    assert (run.status, run.chunks_done) == ("running", 1)
    assert runner.recover_orphans(run) == 1  # running without a live lease: queued again
    request.getfixturevalue("celery_worker")  # a worker comes up and takes what is queued
    wait_for(lambda: CompareRun.objects.get(pk=run.pk).is_finished, 120, "the resumed run")
    run.refresh_from_db()
    assert run.status == "completed" and run.chunks_done == len(chunks) and run.rows_done == ROWS
    assert CompareChunk.objects.get(pk=chunks[0].pk).attempts == 1  # the finished chunk was not redone


def test_stop_a_queued_run(personas: Personas, mysql_source: Datasource, pg_target: Datasource, mysql_db: str) -> None:
    task = create_task(personas, mysql_source, pg_target, mysql_db)
    run = CompareRun.objects.create(compare_task_id=task["id"])
    operator = personas.client(personas.operator)
    response = operator.post(f"/api/compare-runs/{run.pk}/stop/")
    assert response.status_code == 202 and response.json()["status"] == "stopped"
    assert operator.post(f"/api/compare-runs/{run.pk}/stop/").status_code == 400
    runner.plan_run(run.pk)  # a late start message changes nothing
    assert CompareRun.objects.get(pk=run.pk).status == "stopped" and not CompareChunk.objects.filter(run=run).exists()


def test_a_compare_attached_to_a_streaming_task_reports_only_persisting_differences(
        personas: Personas, celery_worker: Any, mysql_source: Datasource, pg_target: Datasource, mysql_db: str,
        pg_db: str, orders: str, postgres: PostgresServer, mariadb: MariaDBServer) -> None:
    sync = SyncTask.objects.create(workspace=personas.workspace, name="live orders", source=mysql_source,
                                   target=pg_target, mode="incremental", tables=[f"{mysql_db}.orders"],
                                   options={"heartbeat_seconds": 0.3, "flush_interval": 0.2})
    sync.allocate_server_id()
    sync.request_start()
    sync.mark_running()
    engine = TaskRunner(spec_for(sync), DatabaseCheckpointStore(sync))
    stream = threading.Thread(target=engine.run, daemon=True)
    stream.start()
    stop = threading.Event()
    writes = [0]

    def write() -> None:  # steady changes at the source, never to ids up to 100
        conn = mariadb.connect(mysql_db)
        rng = random.Random(5)
        while not stop.is_set():
            conn.cursor().execute("UPDATE orders SET amount = amount + 1 WHERE id = %s", [rng.randint(101, ROWS)])
            writes[0] += 1
            time.sleep(0.005)
        conn.close()

    writer = threading.Thread(target=write, daemon=True)
    try:
        wait_for(lambda: (Checkpoint.objects.filter(task=sync).first() or Checkpoint()).state.get("position"), 60,
                 "the stream to start")
        writer.start()
        task = create_task(personas, mysql_source, pg_target, mysql_db, sync_task=sync.pk, tables=[])
        live = run_to_end(personas, task["id"])
        assert writes[0] > 50 and live["status"] == "completed", live
        assert live["counts"] == {"missing": 0, "extra": 0, "different": 0}
        pg_sql(postgres, pg_db, f'UPDATE "{mysql_db}".orders SET customer = %s WHERE id = 7', ["changed"])
        found = run_to_end(personas, task["id"])
        assert found["counts"] == {"missing": 0, "extra": 0, "different": 1}
        (diff,) = personas.client(personas.viewer).get(f"/api/compare-runs/{found['id']}/diffs/").json()["results"]
        assert diff["key"] == {"id": 7} and diff["columns"] == ["customer"]
    finally:
        stop.set()
        engine.stop.set()
        if writer.is_alive():
            writer.join(timeout=10)
        stream.join(timeout=30)
