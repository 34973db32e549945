"""The quarantine through the API: rows a real run put there, listed, counted, edited, discarded, replayed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.models import QuarantinedRow, Status, SyncTask
from dts.sync.runner import SyncRunner
from tests.connectors.mysql.conftest import Sql
from tests.dts.conftest import Personas


@pytest.fixture
def src(mariadb: MariaDBServer, mysql_db: str) -> Iterator[Sql]:
    sql = Sql(mariadb, mysql_db)
    sql("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    sql("CREATE TABLE docs (id INT PRIMARY KEY, body TEXT)")
    # PostgreSQL text cannot hold NUL: the target rejects rows 2 and 3 of notes.
    sql("INSERT INTO notes VALUES (1, 'fine'), (2, CONCAT('a', CHAR(0), 'b')), (3, CONCAT('x', CHAR(0)))")
    # docs.body is not JSON in row 2: the mapping's json_extract cannot process it.
    sql("INSERT INTO docs VALUES (1, '{\"k\": \"one\"}'), (2, 'not json')")
    yield sql
    sql.close()


@pytest.fixture
def target_rows(postgres: PostgresServer, pg_db: str) -> Iterator[Any]:
    conn = postgres.connect(pg_db)

    def rows(query: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(query.encode()).fetchall()]

    yield rows
    conn.close()


def run_task(personas: Personas, source: Datasource, target: Datasource, database: str, settings: Any,
             **options: Any) -> SyncTask:
    settings.DTS_DISTRIBUTED_SNAPSHOT = False
    task = SyncTask.objects.create(
        workspace=personas.workspace, name="q", source=source, target=target, mode="full",
        tables=[f"{database}.notes", f"{database}.docs"],
        options={"dirty_data_policy": "quarantine", "max_quarantine": 10, **options},
        mapping={"tables": {f"{database}.docs": {"transforms": [
            {"column": "body", "type": "json_extract", "path": "$.k", "into": "k"}]}}})
    task.allocate_server_id()
    task.request_start(actor=personas.operator)
    SyncRunner(task.pk).run()
    task.refresh_from_db()
    return task


@pytest.mark.django_db(transaction=True)
def test_quarantined_rows_are_listed_counted_edited_discarded_and_replayed(
        personas: Personas, mysql_source: Datasource, pg_target: Datasource, src: Sql, target_rows: Any,
        settings: Any) -> None:
    task = run_task(personas, mysql_source, pg_target, src.database, settings)
    assert task.status == Status.COMPLETED, task.status_message
    notes, docs = f"{src.database}.notes", f"{src.database}.docs"
    client = personas.client(personas.operator)
    base = f"/api/tasks/{task.pk}/quarantine/"

    assert client.get(f"{base}counts/").json() == {docs: 1, notes: 2}
    listed = client.get(base, {"table": notes}).json()["results"]
    assert sorted(row["key"] for row in listed) == [[2], [3]]
    assert {row["stage"] for row in listed} == {"target"} and all(row["column"] == "body" for row in listed)
    (bad_doc,) = client.get(base, {"table": docs}).json()["results"]
    assert bad_doc["stage"] == "transform" and bad_doc["row"] == {"id": 2, "body": "not json"}
    note2 = next(row for row in listed if row["key"] == [2])
    note3 = next(row for row in listed if row["key"] == [3])

    viewer = personas.client(personas.viewer)
    assert viewer.patch(f"{base}{note2['id']}/", {"row": {"body": "ab"}}, format="json").status_code == 403
    assert viewer.post(f"{base}replay/", {"all": True}, format="json").status_code == 403
    assert personas.client(personas.outsider).get(f"{base}counts/").status_code == 404

    unknown = client.patch(f"{base}{note2['id']}/", {"row": {"nope": 1}}, format="json")
    assert unknown.status_code == 400 and "nope" in str(unknown.json()["row"])
    edited = client.patch(f"{base}{note2['id']}/", {"row": {"body": "ab"}}, format="json")
    assert edited.status_code == 200 and edited.json()["row"] == {"id": 2, "body": "ab"}
    assert client.delete(f"{base}{note3['id']}/").status_code == 204

    # The unedited doc fails again (the same rule, the same bad JSON); the edited note lands.
    replayed = client.post(f"{base}replay/", {"ids": [note2["id"], bad_doc["id"]]}, format="json")
    assert replayed.status_code == 200, replayed.content
    result = replayed.json()
    assert result["replayed"] == 1 and [f["id"] for f in result["failed"]] == [bad_doc["id"]]
    assert "not valid JSON" in result["failed"][0]["error"]
    assert target_rows(f'SELECT id, body FROM "{src.database}".notes ORDER BY id') == [(1, "fine"), (2, "ab")]

    client.patch(f"{base}{bad_doc['id']}/", {"row": {"body": '{"k": "two"}'}}, format="json")
    result = client.post(f"{base}replay/", {"all": True}, format="json").json()
    assert result == {"replayed": 1, "failed": []}
    assert target_rows(f'SELECT id, k FROM "{src.database}".docs ORDER BY id') == [(1, "one"), (2, "two")]
    assert client.get(f"{base}counts/").json() == {}
    assert not QuarantinedRow.objects.filter(task=task).exists()

    assert client.post(f"{base}replay/", {"ids": [999999]}, format="json").status_code == 400
    assert client.post(f"{base}replay/", {}, format="json").status_code == 400
    actions = set(AuditLog.objects.filter(object_type="sync.synctask", object_id=str(task.pk))
                  .values_list("action", flat=True))
    assert {"quarantine_edit", "quarantine_discard", "quarantine_replay"} <= actions


@pytest.mark.django_db(transaction=True)
def test_the_task_fails_once_more_rows_than_the_limit_are_quarantined(
        personas: Personas, mysql_source: Datasource, pg_target: Datasource, src: Sql, settings: Any) -> None:
    task = run_task(personas, mysql_source, pg_target, src.database, settings, max_quarantine=1)
    assert task.status == Status.FAILED
    assert "more than options.max_quarantine=1" in task.status_message
    from dts.monitor.rules import task_failed  # the monitor's task-failed rule raises the alert from this status

    condition = task_failed(None, type("Ctx", (), {"task": task})())  # type: ignore[arg-type]
    assert condition.firing and "max_quarantine" in condition.message
