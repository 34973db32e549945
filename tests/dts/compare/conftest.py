"""Compare fixtures: a MariaDB source table copied to PostgreSQL by the sync engine, datasources for both."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import mysql_source, pg_target, worker_processes  # noqa: F401 - fixtures used here

_server_ids = itertools.count(800_000)
ROWS = 1500


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def orders(mariadb: MariaDBServer, postgres: PostgresServer, mysql_db: str, pg_db: str,
           mysql_source: Datasource, pg_target: Datasource) -> str:  # noqa: F811
    """mysql_db.orders with ROWS rows, and its copy in PostgreSQL (schema mysql_db); returns the table name."""
    conn = mariadb.connect(mysql_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(32) NOT NULL, "
                    "amount DECIMAL(12,2), created DATETIME(6), note TEXT)")
        rows = [(i, f"c{i % 97}", Decimal(i % 10000) / 100, dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i),
                 None if i % 7 == 0 else f"note {i} 🚀") for i in range(1, ROWS + 1)]
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", rows)
    conn.close()
    spec = TaskSpec.from_json({
        "name": "fixture", "source": mysql_source.connection_config().to_dict(with_password=True),
        "target": pg_target.connection_config().to_dict(with_password=True), "mode": "full",
        "tables": [f"{mysql_db}.orders"], "options": {"server_id": next(_server_ids)}})
    assert TaskRunner(spec, MemoryCheckpointStore()).run() == "completed"
    return "orders"


def pg_sql(postgres: PostgresServer, database: str, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
    conn = postgres.connect(database)
    try:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def plant(postgres: PostgresServer, pg_db: str, schema: str) -> None:
    """2 updates, 1 delete, 1 insert at the target."""
    table = f'"{schema}".orders'
    pg_sql(postgres, pg_db, f"UPDATE {table} SET amount = amount + 1 WHERE id IN (10, 700)")
    pg_sql(postgres, pg_db, f"DELETE FROM {table} WHERE id = 1000")
    pg_sql(postgres, pg_db, f"INSERT INTO {table} (id, customer) VALUES (99999, 'ghost')")


__all__ = ["Personas"]
