"""ddl_policy 'review' for real: API → worker process → MariaDB binlog → PostgreSQL, decisions through the API."""

from __future__ import annotations

from typing import Any

import pytest

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.models import Checkpoint, DdlInboxItem
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def run_sql(mariadb: MariaDBServer, db: str, *statements: str) -> None:
    conn = mariadb.connect(db)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def target(postgres: PostgresServer, pg_db: str, schema: str, table: str) -> tuple[list[str], list[Any]]:
    with postgres.connect(pg_db) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()[0] is None:
            return [], []
        cursor = conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY id')
        return [column.name for column in cursor.description or []], [tuple(row) for row in cursor.fetchall()]


def test_a_reviewed_ddl_is_approved_through_the_api_while_other_tables_flow(
        personas: Personas, mysql_source: Datasource, pg_target: Datasource, mariadb: MariaDBServer,
        postgres: PostgresServer, mysql_db: str, pg_db: str, worker_processes: Any) -> None:
    run_sql(mariadb, mysql_db, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(16))",
            "CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(16))", "INSERT INTO a VALUES (1, 'a1')",
            "INSERT INTO b VALUES (1, 'b1')")
    worker = worker_processes()
    client = personas.client(personas.operator)
    created = client.post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "review", "source": mysql_source.pk, "target": pg_target.pk,
        "mode": "full+incremental", "tables": [f"{mysql_db}.a", f"{mysql_db}.b"],
        "options": {"ddl_policy": "review", "flush_interval": 0.2, "heartbeat_seconds": 0.3}}, format="json")
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert client.post(f"/api/tasks/{task_id}/start/").status_code == 202
    wait_for(lambda: (Checkpoint.objects.filter(task_id=task_id).values_list("state", flat=True).first() or {})
             .get("phase") == "stream", 120, "the stream", worker.log_tail)

    run_sql(mariadb, mysql_db, "ALTER TABLE a ADD COLUMN c INT", "INSERT INTO a VALUES (2, 'a2', 20)")
    inbox = f"/api/tasks/{task_id}/ddl-inbox/"
    items = wait_for(lambda: client.get(inbox, {"status": "pending"}).json(), 60, "the DDL in the inbox",
                     worker.log_tail)
    (item,) = items
    assert item["source_table"] == f"{mysql_db}.a" and item["target_table"] == f"{mysql_db}.a"
    assert "ADD COLUMN c INT" in item["source_ddl"] and '"c" integer' in item["target_statement"]
    assert item["status"] == "pending" and item["decided_by"] is None and item["position"]

    run_sql(mariadb, mysql_db, "INSERT INTO b VALUES (2, 'b2')", "INSERT INTO b VALUES (3, 'b3')")
    wait_for(lambda: len(target(postgres, pg_db, mysql_db, "b")[1]) == 3, 60, "b to keep flowing", worker.log_tail)
    assert target(postgres, pg_db, mysql_db, "a") == (["id", "v"], [(1, "a1")]), "a waits for the review"

    approve = f"{inbox}{item['id']}/approve/"
    assert personas.client(personas.viewer).post(approve, {}, format="json").status_code == 403
    assert personas.client(personas.outsider).post(approve, {}, format="json").status_code == 404
    assert client.get(inbox, {"status": "maybe"}).status_code == 400
    edited = f'ALTER TABLE "{mysql_db}"."a" ADD COLUMN "c" bigint'
    decided = client.post(approve, {"target_statement": edited}, format="json")
    assert decided.status_code == 200 and decided.json()["decided_by"] == personas.operator.username
    assert client.post(approve, {}, format="json").status_code == 400, "decided once"
    wait_for(lambda: client.get(inbox).json()[0]["status"] == "applied", 60, "the DDL to be applied",
             worker.log_tail)
    wait_for(lambda: target(postgres, pg_db, mysql_db, "a") == (["id", "v", "c"], [(1, "a1", None), (2, "a2", 20)]),
             60, "a to resume", worker.log_tail)
    audit = AuditLog.objects.get(action="ddl_apply", object_id=str(item["id"]))
    assert audit.actor == personas.operator and audit.changes["target_statement"][1] == edited

    run_sql(mariadb, mysql_db, "ALTER TABLE b ADD COLUMN d INT", "INSERT INTO b VALUES (4, 'b4', 4)")
    pending = wait_for(lambda: client.get(inbox, {"status": "pending"}).json(), 60, "b's DDL", worker.log_tail)
    assert client.post(f"{inbox}{pending[0]['id']}/ignore/").status_code == 200
    run_sql(mariadb, mysql_db, "INSERT INTO a VALUES (3, 'a3', 30)")
    wait_for(lambda: len(target(postgres, pg_db, mysql_db, "b")[1]) == 4 and
             len(target(postgres, pg_db, mysql_db, "a")[1]) == 3, 60, "both tables flowing", worker.log_tail)
    assert target(postgres, pg_db, mysql_db, "b")[0] == ["id", "v"], "the ignored DDL left b's target alone"
    assert sorted(DdlInboxItem.objects.filter(task_id=task_id).values_list("status", flat=True)) == [
        "applied", "ignored"]
    assert client.post(f"/api/tasks/{task_id}/stop/").status_code == 202
