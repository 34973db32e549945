"""A compare attached to a sync task with a mapping, run on a real Celery worker: the task's renames,
left-out columns, filter, mask and constants give no false difference; planted differences are
reported under the target's names; repair writes the mapped row and a re-run is clean."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from dts.compare.models import CompareTask
from dts.datasources.models import Datasource
from dts.localservers import PostgresServer
from dts.sync.models import SyncTask
from dts.sync.specs import spec_for
from tests.dts.compare.conftest import ROWS, pg_sql
from tests.dts.compare.test_compare_api import create_task, run_to_end
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for

pytestmark = [pytest.mark.timeout(300)]


def test_a_compare_attached_to_a_mapped_task_compares_rows_as_they_land(
        personas: Personas, celery_worker: Any, mysql_source: Datasource, pg_target: Datasource, mysql_db: str,
        pg_db: str, orders: str, postgres: PostgresServer) -> None:
    mapping = {"tables": {f"{mysql_db}.orders": {
        "target": f"{mysql_db}.orders_mapped",
        "columns": {"exclude": ["note"], "rename": {"customer": "client"}},
        "filter": "amount > 1",
        "transforms": [{"column": "customer", "type": "keep", "first": 1, "mask": "#"}],
        "computed": [{"name": "origin", "value": {"constant": "shop"}}, {"name": "op", "value": "op"}]}}}
    sync = SyncTask.objects.create(workspace=personas.workspace, name="mapped sync", source=mysql_source,
                                   target=pg_target, mode="full", tables=[f"{mysql_db}.orders"], mapping=mapping,
                                   options={"server_id": 810_001})
    assert TaskRunner(spec_for(sync), MemoryCheckpointStore()).run() == "completed"
    table = f'"{mysql_db}".orders_mapped'
    landed = pg_sql(postgres, pg_db, f"SELECT count(*) FROM {table}")[0][0]
    assert 0 < landed < ROWS  # the filter left rows out

    task = create_task(personas, mysql_source, pg_target, mysql_db, sync_task=sync.pk, tables=[])
    assert CompareTask.objects.get(pk=task["id"]).mappings()[0].target.name == "orders_mapped"
    clean = run_to_end(personas, task["id"])
    assert clean["status"] == "completed", clean
    assert clean["counts"] == {"missing": 0, "extra": 0, "different": 0}

    pg_sql(postgres, pg_db, f"UPDATE {table} SET client = 'c73' WHERE id = 170")  # the unmasked value
    pg_sql(postgres, pg_db, f"UPDATE {table} SET origin = 'elsewhere', op = 'x' WHERE id = 180")  # op: not compared
    pg_sql(postgres, pg_db, f"DELETE FROM {table} WHERE id = 1200")
    run = run_to_end(personas, task["id"])
    assert run["counts"] == {"missing": 1, "extra": 0, "different": 2}, run
    listed = personas.client(personas.viewer).get(f"/api/compare-runs/{run['id']}/diffs/").json()
    by_id = {d["key"]["id"]: d for d in listed["results"]}
    assert by_id[170]["columns"] == ["client"] and by_id[170]["source_row"]["client"] == "c##"
    assert "customer" not in by_id[170]["source_row"] and "note" not in by_id[170]["source_row"]
    assert by_id[180]["columns"] == ["origin"] and by_id[1200]["kind"] == "missing"
    assert by_id[170]["table"] == f"{mysql_db}.orders_mapped" and by_id[170]["source_table"] == f"{mysql_db}.orders"

    operator = personas.client(personas.operator)
    repair_id = operator.post(f"/api/compare-runs/{run['id']}/repair/", {"all": True}, format="json").json()["id"]
    wait_for(lambda: operator.get(f"/api/repair-runs/{repair_id}/").json()["status"] == "completed", 60, "repair")
    done = operator.get(f"/api/repair-runs/{repair_id}/").json()
    assert (done["repaired"], done["failed"], done["verified_clean"]) == (3, 0, True), done
    assert pg_sql(postgres, pg_db, f"SELECT client, origin FROM {table} WHERE id IN (170, 1200) ORDER BY id") == [
        ("c##", "shop"), ("c##", "shop")]  # c73 (170 % 97) and c36 (1200 % 97), masked as the task writes them
    assert run_to_end(personas, task["id"])["counts"] == {"missing": 0, "extra": 0, "different": 0}
