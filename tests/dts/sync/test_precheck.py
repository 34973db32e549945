"""Task pre-checks on a real worker against real servers: source, target and every table."""

from __future__ import annotations

from typing import Any

import pytest

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from tests.dts.conftest import Personas

pytestmark = pytest.mark.timeout(300)


def items_of(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in check["result"]["items"]}


def test_a_new_task_is_prechecked_and_each_table_is_judged(
        personas: Personas, celery_worker: Any, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer,
        pg_db: str, mysql_source: Datasource, pg_target: Datasource) -> None:
    cur = mariadb.connect(mysql_db).cursor()
    cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, note TEXT)")
    cur.execute("CREATE TABLE events_log (at DATETIME, message TEXT)")
    client = personas.client(personas.operator)
    created = client.post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "t", "source": mysql_source.pk, "target": pg_target.pk,
        "mode": "full+incremental", "tables": [f"{mysql_db}.orders", f"{mysql_db}.events_log", f"{mysql_db}.nope"]},
        format="json").json()
    check = client.post(f"/api/tasks/{created['id']}/precheck/?wait=60").json()
    assert check["status"] == "succeeded", check
    items = items_of(check)
    assert items["source.log_bin"]["status"] == "passed"
    assert items["target.authentication"]["status"] == "passed"
    assert items[f"table:{mysql_db}.orders"]["status"] == "passed"
    keyless = items[f"table:{mysql_db}.events_log"]
    assert keyless["status"] == "failed" and "primary key" in keyless["detail"] and keyless["hint"]
    assert items[f"table:{mysql_db}.nope"]["status"] == "failed"
    assert check["result"]["status"] == "failed"
    # The check queued at creation ran too, and both are listed.
    listed = client.get(f"/api/tasks/{created['id']}/prechecks/").json()["results"]
    assert len(listed) == 2
    assert personas.client(personas.viewer).post(f"/api/tasks/{created['id']}/precheck/").status_code == 403
