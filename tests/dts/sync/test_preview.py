"""POST /api/tasks/preview/: sample rows read from the real source, mapped as they would land, or precise errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer
from dts.sync.models import SyncTask
from tests.connectors.mysql.conftest import Sql
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def src(mariadb: MariaDBServer, mysql_db: str) -> Iterator[Sql]:
    sql = Sql(mariadb, mysql_db)
    sql("CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(16), amount DECIMAL(8,2), email VARCHAR(64))")
    sql("INSERT INTO orders VALUES (1, 'paid', 5.00, 'a@x.io'), (2, 'deleted', 7.00, 'b@x.io'), "
        "(3, 'paid', 0.00, 'c@x.io'), (4, 'new', 2.50, 'd@x.io')")
    yield sql
    sql.close()


def body(personas: Personas, source: Datasource, target: Datasource, database: str, **mapping: Any) -> dict[str, Any]:
    return {"workspace": personas.workspace.pk, "source": source.pk, "target": target.pk, "mode": "full+incremental",
            "tables": [f"{database}.orders"], "mapping": mapping}


def test_preview_shows_mapped_rows_and_the_target_schema(personas: Personas, mysql_source: Datasource,
                                                         pg_target: Datasource, src: Sql) -> None:
    table = f"{src.database}.orders"
    mapping = {"naming": {"prefix": "ods_"}, "tables": {table: {
        "filter": "status != 'deleted' and amount > 0", "columns": {"rename": {"email": "email_hash"}},
        "transforms": [{"column": "email", "type": "hash", "salt": "s"}],
        "computed": [{"name": "origin", "value": "source_table"}]}}}
    response = personas.client(personas.operator).post("/api/tasks/preview/", body(
        personas, mysql_source, pg_target, src.database, **mapping), format="json")
    assert response.status_code == 200, response.content
    (result,) = response.json()["tables"]
    assert result["source"] == table and result["target"] == f"{src.database}.ods_orders"
    assert [(c["name"], c["primary_key"]) for c in result["target_schema"]] == [
        ("id", True), ("status", False), ("amount", False), ("email_hash", False), ("origin", False)]
    assert result["target_schema"][3]["type"] == "string(64)"
    assert result["rows"] == [
        {"id": 1, "status": "paid", "amount": "5.00", "email_hash": hashlib.sha256(b"sa@x.io").hexdigest(),
         "origin": "orders"},
        {"id": 4, "status": "new", "amount": "2.50", "email_hash": hashlib.sha256(b"sd@x.io").hexdigest(),
         "origin": "orders"}]
    assert result["filtered_out"] == 2
    assert not SyncTask.objects.exists(), "a preview saves nothing"


def test_an_invalid_rule_is_answered_with_its_path_and_position(personas: Personas, mysql_source: Datasource,
                                                                pg_target: Datasource, src: Sql) -> None:
    client = personas.client(personas.operator)
    table = f"{src.database}.orders"
    bad_filter = client.post("/api/tasks/preview/", body(personas, mysql_source, pg_target, src.database, tables={
        table: {"filter": "amount > 0)", "transforms": [{"column": "email", "type": "rot13"}]}}), format="json")
    assert bad_filter.status_code == 400
    assert bad_filter.json()["mapping"] == [
        f'mapping.tables["{table}"].filter: unexpected \')\' at 10',
        f'mapping.tables["{table}"].transforms[0].type: must be one of hash, keep, constant, null, replace, '
        "regex_replace, trim, lower, upper, json_extract, json_flatten, not 'rot13'"]
    # Valid JSON, but not for this table: found against the real schema.
    unknown = client.post("/api/tasks/preview/", body(personas, mysql_source, pg_target, src.database, tables={
        table: {"transforms": [{"column": "amount", "type": "upper"}], "filter": "nope == 1"}}), format="json")
    assert unknown.status_code == 400
    (message,) = unknown.json()["mapping"]
    assert message.startswith(f'mapping.tables["{table}"].filter') and "unknown column 'nope' at 0" in message


def test_preview_needs_an_operator_of_the_workspace(personas: Personas, mysql_source: Datasource,
                                                   pg_target: Datasource, src: Sql) -> None:
    data = body(personas, mysql_source, pg_target, src.database)
    assert personas.client(personas.viewer).post("/api/tasks/preview/", data, format="json").status_code == 403
    outsider = personas.client(personas.outsider).post("/api/tasks/preview/", data, format="json")
    assert outsider.status_code in (400, 404) and "rows" not in outsider.content.decode()
