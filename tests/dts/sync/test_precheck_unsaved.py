"""Pre-check of a task that is not created yet (the wizard's step before Create), on a real worker against
real MariaDB and PostgreSQL: the same items as a saved task's pre-check, nothing saved, wait-or-202."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.models import SyncTask
from tests.connectors.postgresql.conftest import PgSql, drop_slots
from tests.dts.conftest import Personas

pytestmark = pytest.mark.timeout(300)


def items_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in report["result"]["items"]}


@pytest.fixture
def body(personas: Personas, mariadb: MariaDBServer, mysql_db: str, mysql_source: Datasource,
         pg_target: Datasource) -> dict[str, Any]:
    cur = mariadb.connect(mysql_db).cursor()
    cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, note TEXT)")
    cur.execute("CREATE TABLE events_log (at DATETIME, message TEXT)")
    return {"workspace": personas.workspace.pk, "name": "draft", "source": mysql_source.pk, "target": pg_target.pk,
            "mode": "full+incremental", "tables": [f"{mysql_db}.orders", f"{mysql_db}.events_log"],
            "options": {"dirty_data_policy": "quarantine"}}


def test_an_unsaved_task_is_prechecked_on_a_worker_and_nothing_is_saved(
        personas: Personas, celery_worker: Any, mysql_db: str, body: dict[str, Any]) -> None:
    client = personas.client(personas.operator)
    answer = client.post("/api/tasks/precheck/?wait=60", body, format="json")
    assert answer.status_code == 200, answer.content
    report = answer.json()
    assert report["status"] == "succeeded", report
    items = items_of(report)
    assert items["source.log_bin"]["status"] == "passed"
    assert items["target.authentication"]["status"] == "passed"
    assert items[f"table:{mysql_db}.orders"]["status"] == "passed"
    keyless = items[f"table:{mysql_db}.events_log"]
    assert keyless["status"] == "failed" and "primary key" in keyless["detail"] and keyless["hint"]
    assert report["result"]["status"] == "failed"
    assert not SyncTask.objects.exists()  # nothing was created
    entry = AuditLog.objects.get(action="precheck")
    assert entry.actor == personas.operator and entry.workspace == personas.workspace
    assert entry.changes["source"] == "mysql-src" and "password" not in str(entry.changes)
    # The poll URL answers the same report again.
    again = client.get(report["url"])
    assert again.status_code == 200 and again.json()["result"] == report["result"]


def test_without_waiting_the_answer_is_202_with_a_url_to_poll(
        personas: Personas, celery_worker: Any, mysql_db: str, body: dict[str, Any]) -> None:
    client = personas.client(personas.owner)
    answer = client.post("/api/tasks/precheck/?wait=0", body, format="json")
    assert answer.status_code == 202, answer.content
    job = answer.json()
    assert job["status"] in ("queued", "running") and job["result"] is None
    assert answer["Location"] == job["url"]
    deadline = time.monotonic() + 90
    polled = client.get(job["url"])
    while polled.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.5)
        polled = client.get(job["url"])
    assert polled.status_code == 200, polled.content
    assert items_of(polled.json())[f"table:{mysql_db}.orders"]["status"] == "passed"


def test_a_bad_body_gets_field_errors_and_no_job(personas: Personas, body: dict[str, Any]) -> None:
    client = personas.client(personas.operator)
    bad = client.post("/api/tasks/precheck/", {**body, "options": {"ddl_policy": "whenever"}}, format="json")
    assert bad.status_code == 400
    assert "ddl_policy" in str(bad.json()["options"])
    missing = client.post("/api/tasks/precheck/", {**body, "target": None}, format="json")
    assert missing.status_code == 400 and "target" in missing.json()
    assert not AuditLog.objects.filter(action="precheck").exists()


def test_only_operators_of_the_workspace_precheck_and_poll(personas: Personas, celery_worker: Any,
                                                          body: dict[str, Any]) -> None:
    assert personas.client(personas.viewer).post("/api/tasks/precheck/", body, format="json").status_code == 403
    outsider = personas.client(personas.outsider)
    assert outsider.post("/api/tasks/precheck/", body, format="json").status_code in (400, 404)
    url = personas.client(personas.operator).post("/api/tasks/precheck/?wait=0", body, format="json").json()["url"]
    assert outsider.get(url).status_code == 404
    assert personas.client(personas.viewer).get(url).status_code == 403
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = url.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    assert personas.client(personas.operator).get(forged).status_code == 404


@pytest.fixture
def pg_source(personas: Personas, postgres: PostgresServer, pg_db: str) -> Iterator[Datasource]:
    sql = PgSql(postgres, pg_db)
    sql("CREATE TABLE public.orders (id int PRIMARY KEY, v text)")
    # A slot named like a task's that no task owns: what a task deleted with ?keep_slot=true leaves behind.
    sql("SELECT pg_create_logical_replication_slot('dts_task_987654', 'pgoutput')")
    yield Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                    host=postgres.host, port=postgres.port, user=postgres.user,
                                    password=postgres.password, database=pg_db)
    sql.close()
    drop_slots(postgres, pg_db)


def test_a_postgresql_source_gets_the_slot_items_too(personas: Personas, celery_worker: Any, pg_source: Datasource,
                                                    pg_target: Datasource) -> None:
    answer = personas.client(personas.operator).post("/api/tasks/precheck/?wait=60", {
        "workspace": personas.workspace.pk, "name": "pg", "source": pg_source.pk, "target": pg_target.pk,
        "mode": "full+incremental", "tables": ["public.orders"]}, format="json")
    assert answer.status_code == 200, answer.content
    items = items_of(answer.json())
    assert items["source.replica_identity:public.orders"]["status"] == "passed"
    slot = items["source.replication_slot"]  # checked under a placeholder name: the task's id is not known yet
    assert slot["status"] == "passed" and "not created yet" in slot["detail"]
    orphans = items["source.orphaned_task_slots"]
    assert orphans["status"] == "warning" and "dts_task_987654" in orphans["detail"]
