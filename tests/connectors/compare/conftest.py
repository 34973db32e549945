"""Table pairs on the real servers for compare tests: MySQL→PostgreSQL, MySQL→MySQL, PostgreSQL→PostgreSQL.

A MySQL source table is copied to its target by the sync engine itself (a full-mode TaskRunner), so
the compare sees exactly what the type mapping writes. A PostgreSQL→PostgreSQL pair is two schemas
of one database, filled with the same rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.config import ConnectionConfig
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TableMapping, TaskSpec
from connectors.types import TableId
from dts.localservers import MariaDBServer, PostgresServer

PAIRS = ["mysql->postgresql", "mysql->mysql", "postgresql->postgresql"]
_server_ids = itertools.count(700_000)


@dataclass
class Side:
    engine: str
    config: ConnectionConfig
    database: str  # MySQL database or PostgreSQL schema holding the tables
    execute: Callable[[str, Sequence[Any] | None], list[tuple[Any, ...]]]

    def table(self, name: str) -> TableId:
        return TableId(self.database, name)

    def qualified(self, name: str) -> str:
        quote = (lambda n: "`" + n.replace("`", "``") + "`") if self.engine == "mysql" else \
            (lambda n: '"' + n.replace('"', '""') + '"')
        return f"{quote(self.database)}.{quote(name)}"

    def sql(self, statement: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.execute(statement, args)


@dataclass
class Pair:
    name: str
    source: Side
    target: Side

    def mapping(self, table: str) -> TableMapping:
        return TableMapping(self.source.table(table), self.target.table(table))

    def load(self, table: str, mysql_ddl: str, pg_ddl: str, rows: Sequence[Sequence[Any]]) -> TableMapping:
        """Create the table at the source with rows, and the same at the target (by the sync engine from MySQL)."""
        ddl = mysql_ddl if self.source.engine == "mysql" else pg_ddl
        self.source.sql(ddl.format(table=self.source.qualified(table)))
        insert_rows(self.source, table, rows)
        if self.source.engine == "mysql":
            copy_with_engine(self.source, self.target, [table])
        else:
            self.target.sql(pg_ddl.format(table=self.target.qualified(table)))
            insert_rows(self.target, table, rows)
        return self.mapping(table)


def insert_rows(side: Side, table: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    marks = ", ".join(["%s"] * len(rows[0]))
    for start in range(0, len(rows), 1000):
        part = rows[start:start + 1000]
        values = ", ".join([f"({marks})"] * len(part))
        side.sql(f"INSERT INTO {side.qualified(table)} VALUES {values}", [v for row in part for v in row])


def copy_with_engine(source: Side, target: Side, tables: list[str], **options: Any) -> None:
    spec = TaskSpec.from_json({
        "name": "compare-fixture", "source": source.config.to_dict(with_password=True),
        "target": target.config.to_dict(with_password=True), "mode": "full",
        "tables": [{"source": str(source.table(t)), "target": str(target.table(t))} for t in tables],
        "options": {"server_id": next(_server_ids), **options}})
    assert TaskRunner(spec, MemoryCheckpointStore()).run() == "completed"


def _mysql_side(server: MariaDBServer, database: str) -> Iterator[Side]:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
        cur.execute("SET time_zone = '+00:00'")

    def execute(statement: str, args: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())

    config = ConnectionConfig("mysql", server.host, server.port, server.user, server.password, connect_timeout=5.0)
    yield Side("mysql", config, database, execute)
    execute(f"DROP DATABASE IF EXISTS `{database}`", None)
    conn.close()


def _pg_side(server: PostgresServer, database: str, schema: str) -> Iterator[Side]:
    conn = server.connect(database)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

    def execute(statement: str, args: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        cursor = conn.execute(statement.encode() if args is None else statement, args)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []

    config = ConnectionConfig("postgresql", server.host, server.port, server.user, server.password,
                              database=database, connect_timeout=5.0)
    yield Side("postgresql", config, schema, execute)
    conn.close()


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest, mariadb: MariaDBServer, postgres: PostgresServer, mysql_db: str,
         pg_db: str) -> Iterator[Pair]:
    name = request.param
    sides: list[Iterator[Side]] = []
    if name == "mysql->postgresql":
        sides = [_mysql_side(mariadb, mysql_db), _pg_side(postgres, pg_db, mysql_db)]
    elif name == "mysql->mysql":
        sides = [_mysql_side(mariadb, mysql_db), _mysql_side(mariadb, f"{mysql_db}_dst")]
    else:
        sides = [_pg_side(postgres, pg_db, "src"), _pg_side(postgres, pg_db, "dst")]
    source, target = next(sides[0]), next(sides[1])
    yield Pair(name, source, target)
    for side in reversed(sides):
        next(side, None)


@pytest.fixture
def mysql_to_pg(mariadb: MariaDBServer, postgres: PostgresServer, mysql_db: str, pg_db: str) -> Iterator[Pair]:
    sides = [_mysql_side(mariadb, mysql_db), _pg_side(postgres, pg_db, mysql_db)]
    yield Pair("mysql->postgresql", next(sides[0]), next(sides[1]))
    for side in reversed(sides):
        next(side, None)


@pytest.fixture
def mysql_to_mysql(mariadb: MariaDBServer, mysql_db: str) -> Iterator[Pair]:
    sides = [_mysql_side(mariadb, mysql_db), _mysql_side(mariadb, f"{mysql_db}_dst")]
    yield Pair("mysql->mysql", next(sides[0]), next(sides[1]))
    for side in reversed(sides):
        next(side, None)
