"""Sinks on the real test servers, and a harness that reads a target back the same way for both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from connectors.config import ConnectionConfig
from connectors.mysql.sink import MySQLSink
from connectors.postgresql.sink import PostgreSQLSink
from connectors.types import Kind, TableId, TableSchema
from dts.localservers import MariaDBServer, PostgresServer


class Harness:
    """One engine's sink plus direct access to the target, for the tests shared by every SQL sink."""

    engine = ""
    sink: Any

    def target(self, name: str) -> TableId:
        raise NotImplementedError

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def qualified(self, table: TableId) -> str:
        return f"{self.quote(table.database)}.{self.quote(table.name)}"

    def select_list(self, schema: TableSchema) -> str:
        return ", ".join(self.quote(column.name) for column in schema.columns)

    def read(self, schema: TableSchema, target: TableId) -> list[tuple[Any, ...]]:
        """Every row at the target, in schema column order, sorted by key."""
        order = ", ".join(self.quote(name) for name in schema.key_columns)
        statement = f"SELECT {self.select_list(schema)} FROM {self.qualified(target)} ORDER BY {order}"
        return self.query(statement)

    def count(self, target: TableId) -> int:
        return int(self.query(f"SELECT count(*) FROM {self.qualified(target)}")[0][0])

    def columns(self, target: TableId) -> list[tuple[str, str]]:
        """(name, type text) of the target table's columns, in order."""
        raise NotImplementedError

    def exists(self, target: TableId) -> bool:
        raise NotImplementedError


class PostgresHarness(Harness):
    engine = "postgresql"

    def __init__(self, sink: PostgreSQLSink, conn: psycopg.Connection[Any]) -> None:
        self.sink = sink
        self.conn = conn

    def target(self, name: str) -> TableId:
        return TableId("app", name)

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def columns(self, target: TableId) -> list[tuple[str, str]]:
        return [(name, type_text) for name, type_text in self.conn.execute(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [self.qualified(target)])]

    def exists(self, target: TableId) -> bool:
        return self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", [self.qualified(target)]).fetchone() == (True,)


class MySQLHarness(Harness):
    engine = "mysql"

    def __init__(self, sink: MySQLSink, conn: pymysql.connections.Connection, database: str) -> None:
        self.sink = sink
        self.conn = conn
        self.database = database

    def target(self, name: str) -> TableId:
        return TableId(self.database, name)

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def select_list(self, schema: TableSchema) -> str:
        # FLOAT comes back as 6 significant digits in the text protocol; as DOUBLE it is exact.
        return ", ".join(f"CAST({self.quote(c.name)} AS DOUBLE)" if c.type.kind is Kind.FLOAT and c.type.bits == 32
                         else self.quote(c.name) for c in schema.columns)

    def columns(self, target: TableId) -> list[tuple[str, str]]:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                           "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", [target.database, target.name])
            return [(name, type_text) for name, type_text in cursor.fetchall()]

    def exists(self, target: TableId) -> bool:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                           [target.database, target.name])
            return bool(cursor.fetchone()[0])


def pg_sink_config(postgres: PostgresServer, database: str, **options: Any) -> ConnectionConfig:
    return ConnectionConfig(engine="postgresql", host=postgres.host, port=postgres.port, user=postgres.user,
                            password=postgres.password, database=database, options=options)


def mysql_sink_config(mariadb: MariaDBServer, **options: Any) -> ConnectionConfig:
    return ConnectionConfig(engine="mysql", host=mariadb.host, port=mariadb.port, user=mariadb.user,
                            password=mariadb.password, options=options)


@pytest.fixture
def pg_harness(postgres: PostgresServer, pg_db: str) -> Iterator[PostgresHarness]:
    sink = PostgreSQLSink(pg_sink_config(postgres, pg_db))
    conn = postgres.connect(pg_db)
    conn.execute("SET TIME ZONE 'UTC'")
    yield PostgresHarness(sink, conn)
    sink.close()
    conn.close()


@pytest.fixture
def mysql_harness(mariadb: MariaDBServer, mysql_db: str) -> Iterator[MySQLHarness]:
    sink = MySQLSink(mysql_sink_config(mariadb))
    conn = mariadb.connect(mysql_db)
    with conn.cursor() as cursor:
        cursor.execute("SET time_zone = '+00:00'")
    yield MySQLHarness(sink, conn, mysql_db)
    sink.close()
    conn.close()


@pytest.fixture(params=["postgresql", "mysql"])
def harness(request: pytest.FixtureRequest) -> Harness:
    """The same behaviour, checked on every SQL sink."""
    return request.getfixturevalue("pg_harness" if request.param == "postgresql" else "mysql_harness")

