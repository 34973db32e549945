"""What the conformance suite needs from each engine: a kit per source and per sink.

Every source and sink runs the same tests (test_source_contract, test_sink_contract, test_pairs) on
the same table, `items`, whose rows are compared in one canonical form:

    (id: int, name: str, amount: Decimal at scale 2, at: naive UTC datetime with microseconds, note: str | None)

A new connector gets the whole suite by adding one kit class and one factory in conftest.py.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
from typing import Any

from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema
from dts.localservers import MariaDBServer, PostgresServer

Row = tuple[int, str, decimal.Decimal, datetime.datetime, "str | None"]
CENT = decimal.Decimal("0.01")

# The canonical schema of `items`, for the sink tests that write without a source.
ITEMS_COLUMNS = (
    ColumnSchema("id", CanonicalType(Kind.INT, bits=64), nullable=False),
    ColumnSchema("name", CanonicalType(Kind.STRING, length=64)),
    ColumnSchema("amount", CanonicalType(Kind.DECIMAL, precision=12, scale=2)),
    ColumnSchema("at", CanonicalType(Kind.DATETIME, fsp=6)),
    ColumnSchema("note", CanonicalType(Kind.STRING)),
)


def items_schema(table: TableId) -> TableSchema:
    return TableSchema(table, ITEMS_COLUMNS, primary_key=("id",))


def item(i: int, version: int = 0) -> Row:
    """Row i as written the `version`-th time: every column changes with the version."""
    name = f"item {i} v{version} é😀中"
    amount = (decimal.Decimal(i) * decimal.Decimal("1.25") + version).quantize(CENT)
    at = datetime.datetime(2024, 1, 1, 12) + datetime.timedelta(seconds=i, microseconds=(i * 7919 + version) % 10**6)
    note = None if (i + version) % 3 == 0 else f"note {i}/{version}"
    return (i, name, amount, at, note)


def canonical(row: tuple[Any, ...]) -> Row:
    """A read-back row in the canonical form (drivers differ in how they return the same values)."""
    id_, name, amount, at, note = row
    if isinstance(at, datetime.datetime) and at.tzinfo is not None:
        at = at.astimezone(datetime.UTC).replace(tzinfo=None)
    return (int(id_), str(name), decimal.Decimal(amount).quantize(CENT), at, note)


_names = itertools.count(1)


class SourceSession:
    """DML on the source's `items` tables through one connection (one per thread)."""

    def insert(self, table: str, rows: list[Row]) -> None:
        raise NotImplementedError

    def update(self, table: str, row: Row) -> None:
        """Every non-key column of row[0] set to the row's values."""
        raise NotImplementedError

    def delete(self, table: str, key: int) -> None:
        raise NotImplementedError

    def rekey(self, table: str, old: int, new: int) -> None:
        raise NotImplementedError

    def rows(self, table: str) -> list[Row]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SourceKit:
    engine = ""
    supports_key_update = True  # MongoDB's _id cannot change
    full_before_images = True  # PostgreSQL sends only the old key (REPLICA IDENTITY DEFAULT)
    has_password = True  # whether the test server refuses a wrong password
    database = ""  # where the kit's tables live (a MySQL database, a PostgreSQL schema)

    def config(self) -> dict[str, Any]:
        """The source connection, as a task spec's "source"."""
        raise NotImplementedError

    def spec_options(self) -> dict[str, Any]:
        """Task options this engine's source needs in tests (e.g. a MySQL replica id)."""
        return {}

    def create_items(self, name: str = "items") -> TableId:
        raise NotImplementedError

    def session(self) -> SourceSession:
        raise NotImplementedError

    def table(self, name: str) -> TableId:
        return TableId(self.database, name)

    def close(self) -> None:
        """Drop what the kit created."""


class SinkKit:
    engine = ""
    has_password = True
    replaces_chunk_ranges = True  # an append-only stream republishes a re-run chunk instead

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def target(self, name: str) -> TableId:
        """Where a source table called `name` lands."""
        raise NotImplementedError

    def rows(self, target: TableId) -> list[Row]:
        """The target's rows in canonical form, sorted by id ([] when the table does not exist)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def wrong_password(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "password": "not-the-password"}


# MySQL / MariaDB --------------------------------------------------------------------------------------

def _mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


_MYSQL_ITEMS = ("CREATE TABLE {} (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), "
                "at DATETIME(6), note TEXT) CHARACTER SET utf8mb4")


class MySQLSession(SourceSession):
    def __init__(self, server: MariaDBServer, database: str) -> None:
        self.database = database
        self.conn = server.connect(database)

    def _run(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(statement, args)
            return list(cursor.fetchall())

    def insert(self, table: str, rows: list[Row]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {_mysql_quote(table)} VALUES (%s, %s, %s, %s, %s)", rows)

    def update(self, table: str, row: Row) -> None:
        self._run(f"UPDATE {_mysql_quote(table)} SET name = %s, amount = %s, at = %s, note = %s WHERE id = %s",
                  (*row[1:], row[0]))

    def delete(self, table: str, key: int) -> None:
        self._run(f"DELETE FROM {_mysql_quote(table)} WHERE id = %s", (key,))

    def rekey(self, table: str, old: int, new: int) -> None:
        self._run(f"UPDATE {_mysql_quote(table)} SET id = %s WHERE id = %s", (new, old))

    def rows(self, table: str) -> list[Row]:
        return [canonical(r) for r in self._run(f"SELECT id, name, amount, at, note FROM {_mysql_quote(table)} "
                                                "ORDER BY id")]

    def close(self) -> None:
        self.conn.close()


def mysql_config(server: MariaDBServer) -> dict[str, Any]:
    return {"engine": "mysql", "host": server.host, "port": server.port, "user": server.user,
            "password": server.password, "connect_timeout": 3.0}


class MySQLSourceKit(SourceKit):
    engine = "mysql"
    _server_ids = itertools.count(600_000)  # far from the other suites' replica ids

    def __init__(self, server: MariaDBServer, database: str) -> None:
        self.server = server
        self.database = database

    def config(self) -> dict[str, Any]:
        return mysql_config(self.server)

    def spec_options(self) -> dict[str, Any]:
        return {"server_id": next(self._server_ids)}

    def create_items(self, name: str = "items") -> TableId:
        session = self.session()
        session._run(_MYSQL_ITEMS.format(_mysql_quote(name)))
        session.close()
        return self.table(name)

    def session(self) -> MySQLSession:
        return MySQLSession(self.server, self.database)


class MySQLSinkKit(SinkKit):
    """Tables land in a database of their own on the same server, `<source db>_dst`."""

    engine = "mysql"

    def __init__(self, server: MariaDBServer) -> None:
        self.server = server
        self.database = f"dst{next(_names)}"
        self.conn = server.connect()

    def config(self) -> dict[str, Any]:
        return mysql_config(self.server)

    def target(self, name: str) -> TableId:
        return TableId(self.database, name)

    def rows(self, target: TableId) -> list[Row]:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                           "AND TABLE_NAME = %s", (target.database, target.name))
            if not cursor.fetchone()[0]:
                return []
            cursor.execute(f"SELECT id, name, amount, at, note FROM {_mysql_quote(target.database)}."
                           f"{_mysql_quote(target.name)} ORDER BY id")
            return [canonical(r) for r in cursor.fetchall()]

    def close(self) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {_mysql_quote(self.database)}")
        self.conn.close()


# PostgreSQL -------------------------------------------------------------------------------------------

def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pg_config(server: PostgresServer, database: str) -> dict[str, Any]:
    return {"engine": "postgresql", "host": server.host, "port": server.port, "user": server.user,
            "password": server.password, "database": database, "connect_timeout": 3.0}


class PostgresSinkKit(SinkKit):
    """Tables land in their own database; a source database or schema becomes a schema of that name."""

    engine = "postgresql"

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.dbname = f"dst{next(_names)}"
        admin = server.connect()
        admin.execute(f"CREATE DATABASE {_pg_quote(self.dbname)}".encode())
        admin.close()
        self.conn = server.connect(self.dbname)
        self.conn.execute("SET TIME ZONE 'UTC'")
        self.schema = "app"

    def config(self) -> dict[str, Any]:
        return pg_config(self.server, self.dbname)

    def target(self, name: str) -> TableId:
        return TableId(self.schema, name)

    def rows(self, target: TableId) -> list[Row]:
        qualified = f"{_pg_quote(target.database)}.{_pg_quote(target.name)}"
        if self.conn.execute("SELECT to_regclass(%s) IS NULL", [qualified]).fetchone() == (True,):
            return []
        cursor = self.conn.execute(f"SELECT id, name, amount, at, note FROM {qualified} ORDER BY id".encode())
        return [canonical(r) for r in cursor.fetchall()]

    def close(self) -> None:
        self.conn.close()
        admin = self.server.connect()
        admin.execute(f"DROP DATABASE IF EXISTS {_pg_quote(self.dbname)} WITH (FORCE)".encode())
        admin.close()


# MongoDB (sink) ---------------------------------------------------------------------------------------

class MongoSinkKit(SinkKit):
    """Collections in a database of their own. Datetimes travel as ISO text: BSON dates keep milliseconds,
    and `items` has microseconds (the sink refuses to round them: datetime_mode "string" is the fix it names)."""

    engine = "mongodb"
    has_password = False  # nx-27017 has no authentication

    def __init__(self, mongo: Any) -> None:
        self.mongo = mongo
        self.database = f"dst{next(_names)}"
        self.client = mongo.client()
        self.options = {**mongo.options, "datetime_mode": "string"}
        if not mongo.is_real_mongodb:
            self.options["decimal_mode"] = "string"  # nx-27017 cannot store Decimal128
        if mongo.is_real_mongodb:
            self.has_password = bool(mongo.password)

    def config(self) -> dict[str, Any]:
        return {"engine": "mongodb", "host": self.mongo.host, "port": self.mongo.port, "user": self.mongo.user,
                "password": self.mongo.password, "options": self.options, "connect_timeout": 5.0}

    def target(self, name: str) -> TableId:
        return TableId(self.database, name)

    def rows(self, target: TableId) -> list[Row]:
        documents = self.client[target.database][target.name].find({}, sort=[("_id", 1)])
        rows = []
        for doc in documents:
            amount = doc["amount"].to_decimal() if hasattr(doc["amount"], "to_decimal") else doc["amount"]
            at = datetime.datetime.fromisoformat(doc["at"]) if isinstance(doc["at"], str) else doc["at"]
            assert doc["_id"] == doc["id"], doc
            rows.append(canonical((doc["id"], doc["name"], amount, at, doc["note"])))
        return sorted(rows)  # in key order, whatever order the server returns

    def close(self) -> None:
        self.client.drop_database(self.database)
        self.client.close()


# Redis Streams (sink) ---------------------------------------------------------------------------------

class RedisStreamsSinkKit(SinkKit):
    """A stream per table; the target's rows are the table a subscriber rebuilds from it."""

    engine = "redis"
    has_password = False  # the test Redis has no password
    replaces_chunk_ranges = False

    def __init__(self, server: Any) -> None:
        import redis

        self.server = server
        self.task_name = f"conformance{next(_names)}"
        self.client = redis.Redis.from_url(server.url, decode_responses=True)

    def config(self) -> dict[str, Any]:
        return {"engine": "redis", "host": self.server.host, "port": self.server.port,
                "options": {"task_name": self.task_name}, "connect_timeout": 3.0}

    def target(self, name: str) -> TableId:
        return TableId("app", name)

    def rows(self, target: TableId) -> list[Row]:
        import json

        from docs.redis_streams_consumer import TableRebuilder

        rebuilt = TableRebuilder()
        for _entry_id, fields in self.client.xrange(f"dts:{self.task_name}:{target}"):
            rebuilt.apply(json.loads(fields["event"]))
        return sorted(canonical((row["id"], row["name"], row["amount"], datetime.datetime.fromisoformat(row["at"]),
                                 row["note"])) for row in rebuilt.rows.values())

    def close(self) -> None:
        for stream in self.client.scan_iter(f"dts:{self.task_name}*"):
            self.client.delete(stream)
        self.client.close()


# PostgreSQL (source) ----------------------------------------------------------------------------------

class PostgresSession(SourceSession):
    def __init__(self, server: PostgresServer, dbname: str, schema: str) -> None:
        self.schema = schema
        self.conn = server.connect(dbname)
        self.conn.execute("SET TIME ZONE 'UTC'")

    def _table(self, table: str) -> str:
        return f"{_pg_quote(self.schema)}.{_pg_quote(table)}"

    def insert(self, table: str, rows: list[Row]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self._table(table)} VALUES (%s, %s, %s, %s, %s)".encode(), rows)

    def update(self, table: str, row: Row) -> None:
        self.conn.execute(f"UPDATE {self._table(table)} SET name = %s, amount = %s, at = %s, note = %s "
                          "WHERE id = %s".encode(), (*row[1:], row[0]))

    def delete(self, table: str, key: int) -> None:
        self.conn.execute(f"DELETE FROM {self._table(table)} WHERE id = %s".encode(), (key,))

    def rekey(self, table: str, old: int, new: int) -> None:
        self.conn.execute(f"UPDATE {self._table(table)} SET id = %s WHERE id = %s".encode(), (new, old))

    def rows(self, table: str) -> list[Row]:
        cursor = self.conn.execute(f"SELECT id, name, amount, at, note FROM {self._table(table)} ORDER BY id".encode())
        return [canonical(r) for r in cursor.fetchall()]

    def close(self) -> None:
        self.conn.close()


class PostgresSourceKit(SourceKit):
    """Tables in schema `shop` of a fresh database; each task's slot is named after its server_id."""

    engine = "postgresql"
    full_before_images = False
    _server_ids = itertools.count(700_000)

    def __init__(self, server: PostgresServer, dbname: str) -> None:
        self.server = server
        self.dbname = dbname
        self.database = "shop"
        admin = server.connect(dbname)
        admin.execute(b"CREATE SCHEMA shop")
        admin.close()

    def config(self) -> dict[str, Any]:
        return pg_config(self.server, self.dbname)

    def spec_options(self) -> dict[str, Any]:
        return {"server_id": next(self._server_ids)}

    def create_items(self, name: str = "items") -> TableId:
        conn = self.server.connect(self.dbname)
        conn.execute(f"CREATE TABLE shop.{_pg_quote(name)} (id bigint PRIMARY KEY, name varchar(64), "
                     "amount numeric(12,2), at timestamp(6), note text)".encode())
        conn.close()
        return self.table(name)

    def session(self) -> PostgresSession:
        return PostgresSession(self.server, self.dbname, self.database)

    def close(self) -> None:
        from tests.connectors.postgresql.conftest import drop_slots  # a database with a slot cannot be dropped

        drop_slots(self.server, self.dbname)
