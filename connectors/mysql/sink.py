"""The MySQL/MariaDB sink: creates tables, bulk-loads snapshot chunks, applies merged change batches.

- load_chunk: one transaction deletes the chunk's key range (a re-run chunk leaves no duplicates)
  and inserts the rows with multi-row INSERT statements kept under max_allowed_packet.
- write: one transaction; per table, batched DELETE ... WHERE key IN (...), then multi-row
  INSERT ... ON DUPLICATE KEY UPDATE. Replaying a batch changes nothing (invariant 2).
- Values are written as SQL literals built per column kind (one precomputed encoder per column,
  strings escaped by the driver's escaping, bytes as X'hex'): faster than pymysql's per-value
  type dispatch, and the session's strict sql_mode turns out-of-range values into errors rather
  than clipped data. Dirty rows are located in savepoints and raised as DirtyRowError, or handed
  to on_dirty while the rest is written (see connectors.quarantine).
- apply_ddl: compares the target's shape with the event's schema (connectors.sql_ddl); each MySQL
  DDL statement commits on its own, and a replay re-plans from what is there.

Session: sql_mode STRICT_ALL_TABLES (no NO_BACKSLASH_ESCAPES, which the escaping relies on),
time_zone '+00:00' (TIMESTAMP values are UTC), explicit_defaults_for_timestamp on.
Options read from ConnectionConfig.options: "source_engine" ("mysql": keep native type text),
"collation", "query_timeout" (seconds, default 3600), and those of connectors.mysql.connection.
"""

from __future__ import annotations

import datetime
import functools
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pymysql
from pymysql.converters import escape_string

from connectors.base import Batch, Chunk, Sink, TableBatch
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError, is_transient
from connectors.events import DDL, ChangeEvent
from connectors.mysql import ddl
from connectors.mysql.connection import error_code, open_connection
from connectors.mysql.connector import MySQLConnector
from connectors.quarantine import DirtyRowError, OnDirty, format_duration, quarantined
from connectors.spec import IF_EXISTS
from connectors.sql_ddl import (
    CreateTable,
    DdlOp,
    DropTable,
    RenameTable,
    TargetColumn,
    TargetShape,
    plan,
    shape_differences,
)
from connectors.types import ColumnSchema, Kind, TableId, TableSchema

log = logging.getLogger(__name__)

DEFAULT_QUERY_TIMEOUT = 3600.0
SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO,ERROR_FOR_DIVISION_BY_ZERO"
STATEMENT_CHARS = 1_000_000  # about 1-4 MB per statement: big enough to amortise, far below the packet limit
DELETE_KEYS = 1000  # keys per DELETE ... IN (...)
# Server errors that mean "this row's values cannot go in": out of range, too long, bad value, NULL
# into NOT NULL, duplicate key, invalid JSON (MySQL 3140, MariaDB's json_valid check 4025), FK.
DIRTY_CODES = frozenset({1048, 1062, 1263, 1264, 1265, 1292, 1300, 1366, 1367, 1406, 1411, 1451, 1452, 1690,
                         3140, 3819, 4025})
_UTC = datetime.UTC
_COLUMN_IN_MESSAGE = [re.compile(p) for p in (
    r"for column `[^`]*`\.`[^`]*`\.`((?:[^`]|``)+)`", r"for column '([^']+)'", r"Column '([^']+)'",
    r"CONSTRAINT `((?:[^`]|``)+)` failed")]

Encoder = Callable[[Any], str]


def _is_dirty(error: BaseException) -> bool:
    if isinstance(error, pymysql.err.MySQLError):
        return error_code(error) in DIRTY_CODES
    return isinstance(error, ValueError | OverflowError)


# Literal encoders, by canonical kind. None never reaches them.

def _decimal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValueError(f"{value} cannot be stored in a MySQL DECIMAL")
    return format(value, "f")  # never exponent notation: 1E-30 would be read as a DOUBLE


def _float(value: Any) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be stored in a MySQL FLOAT/DOUBLE")
    return repr(float(value))  # shortest text that reads back as the same double


def _string(value: Any) -> str:
    return "'" + escape_string(value) + "'"


def _bytes(value: Any) -> str:
    return "X'" + bytes(value).hex() + "'"


def _date(value: Any) -> str:
    return "'" + value.isoformat() + "'"


def _time(value: Any) -> str:
    return "'" + format_duration(value) + "'"


def _datetime(value: Any) -> str:
    return "'" + value.isoformat(" ") + "'"


def _timestamp(value: Any) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return "'" + value.isoformat(" ") + "'"


def _bool(value: Any) -> str:
    return "1" if value else "0"


def _uuid(value: Any) -> str:
    return "'" + str(value) + "'" if isinstance(value, uuid.UUID) else _string(value)


_ENCODERS: dict[Kind, Encoder] = {
    Kind.INT: str, Kind.BIT: str, Kind.YEAR: str, Kind.DECIMAL: _decimal, Kind.FLOAT: _float, Kind.BOOL: _bool,
    Kind.STRING: _string, Kind.ENUM: _string, Kind.SET: _string, Kind.JSON: _string, Kind.BYTES: _bytes,
    Kind.DATE: _date, Kind.TIME: _time, Kind.DATETIME: _datetime, Kind.TIMESTAMP: _timestamp, Kind.UUID: _uuid,
}


def encoder(column: ColumnSchema) -> Encoder:
    return _ENCODERS.get(column.type.kind, _string)


def literal(column: ColumnSchema, value: Any) -> str:
    return "NULL" if value is None else encoder(column)(value)


@dataclass
class _TablePlan:
    schema: TableSchema
    target: TableId
    encoders: list[Encoder]
    key_indexes: tuple[int, ...]
    key_encoders: list[Encoder]
    key_names: list[str]  # quoted
    insert_prefix: str
    upsert_suffix: str
    delete_prefix: str
    single_key: bool


class MySQLSink(MySQLConnector, Sink):
    """Writes canonical rows into MySQL or MariaDB. One connection; not for use from several threads."""

    supports_sink: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._conn: Any = None
        self._plans: dict[tuple[TableId, TableId], _TablePlan] = {}
        self.query_timeout = float(config.options.get("query_timeout", DEFAULT_QUERY_TIMEOUT))
        self.native_types = config.options.get("source_engine") == "mysql"
        collation = config.options.get("collation")
        self.collation: str | None = str(collation) if collation else (None if self.native_types else "utf8mb4_bin")
        self.statement_chars = STATEMENT_CHARS

    # Connection

    def connection(self) -> Any:
        """The sink's pymysql connection (autocommit; transactions are explicit), opened on first use."""
        if self._conn is None or not self._conn.open:
            conn = open_connection(self.config, query_timeout=self.query_timeout)
            with conn.cursor() as cursor:
                cursor.execute(f"SET SESSION sql_mode = '{SQL_MODE}', time_zone = '+00:00'")
                try:
                    cursor.execute("SET SESSION explicit_defaults_for_timestamp = 1")
                except pymysql.err.OperationalError as exc:  # MySQL 8 may need SESSION_VARIABLES_ADMIN
                    log.warning("cannot set explicit_defaults_for_timestamp (%s); TIMESTAMP columns are "
                                "declared NULL explicitly instead", exc)
                cursor.execute("SELECT @@max_allowed_packet, @@SESSION.binlog_format")
                packet, binlog_format = cursor.fetchone()
                # READ COMMITTED: no gap locks, so parallel chunk loads (range DELETE + INSERT) and parallel
                # partitions (DELETE of a missing key + INSERT nearby) on one table cannot deadlock; under
                # REPEATABLE READ they do. A STATEMENT binlog refuses READ COMMITTED writes: keep the default.
                if _text(binlog_format).upper() != "STATEMENT":
                    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            # Characters, counted at up to 4 bytes each (utf8mb4), with room for the statement around them.
            self.statement_chars = max(16_384, min(STATEMENT_CHARS, int(packet) // 4 - 4096))
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _execute(self, statement: str, args: Sequence[Any] | None = None) -> Any:
        with self.connection().cursor() as cursor:
            cursor.execute(statement, args)
            return cursor.fetchall()

    # Tables

    def _mapper(self, schema: TableSchema) -> ddl.TypeMapper:
        return ddl.TypeMapper(schema, native=self.native_types)

    def prepare(self, schema: TableSchema, target: TableId, *, if_exists: str = "keep",
                defer_indexes: bool = False) -> None:
        """Create the target database and table from the canonical schema (InnoDB, utf8mb4).

        if_exists: keep (an existing table's shape must match, else a ConnectorError lists the
        differences), drop, truncate (shape must match too) or fail. The primary key (or, without
        one, the first all-NOT-NULL unique key) is created at once: load_chunk's re-run delete and
        write()'s upserts need it. defer_indexes=True leaves the other unique keys to finish_table().
        """
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)}, not {if_exists!r}")
        mapper = self._mapper(schema)
        mapper.check(target)
        self._ensure_database(target.database)
        shape = self.inspect(target)
        if shape is not None:
            if if_exists == "fail":
                raise ConnectorError(f"target table {target} already exists",
                                     hint="choose if_exists keep, drop or truncate, or drop the table")
            if if_exists == "drop":
                self._execute(f"DROP TABLE {ddl.qualified(target)}")
                shape = None
            else:
                problems = shape_differences(shape, schema, mapper.same_type)
                if problems:
                    raise ConnectorError(
                        f"target table {target} exists with a different shape: " + "; ".join(problems),
                        hint="use if_exists='drop' to re-create it, or alter the target table to match the source")
                if if_exists == "truncate":
                    self._execute(f"TRUNCATE TABLE {ddl.qualified(target)}")
        if shape is None:
            self._execute(ddl.create_table(schema, target, mapper, collation=self.collation,
                                           unique_keys=not defer_indexes))
        self._forget(target)

    def _ensure_database(self, name: str) -> None:
        if not self._execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]):
            self._execute(ddl.create_database(name))

    def finish_table(self, schema: TableSchema, target: TableId) -> None:
        """After a deferred-index load: add the unique keys prepare() left out, and ANALYZE. Idempotent."""
        shape = self.inspect(target)
        present = set(shape.unique_keys) if shape else set()
        for key in ddl.index_keys(schema):
            if key not in present:
                self._execute(ddl.add_unique_key(target, key))
        self._execute(f"ANALYZE TABLE {ddl.qualified(target)}")

    def inspect(self, target: TableId) -> TargetShape | None:
        """The target table's columns (COLUMN_TYPE) and keys, or None when it does not exist."""
        rows = self._execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", [target.database, target.name])
        if not rows:
            return None
        columns = tuple(TargetColumn(_text(name), _text(type_text), _text(nullable) == "YES")
                        for name, type_text, nullable in rows)
        indexes: dict[str, list[str]] = {}
        for index_name, column_name in self._execute(
                "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = %s AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                [target.database, target.name]):
            indexes.setdefault(_text(index_name), []).append(_text(column_name))
        primary = tuple(indexes.pop("PRIMARY", ()))
        return TargetShape(columns, primary, tuple(tuple(names) for names in indexes.values()))

    def _has_primary_key(self, target: TableId) -> bool:
        shape = self.inspect(target)
        return bool(shape and shape.primary_key)

    # Per-table plans

    def _plan(self, schema: TableSchema, target: TableId) -> _TablePlan:
        key = (schema.table, target)
        cached = self._plans.get(key)
        if cached is not None and (cached.schema is schema or cached.schema == schema):
            return cached
        self.connection()  # statement_chars depends on the server
        ddl.TypeMapper(schema, native=self.native_types).check()
        names = [ddl.quote_ident(name) for name in schema.column_names]
        key_indexes = schema.key_indexes()
        key_names = [names[i] for i in key_indexes]
        non_key = [names[i] for i in range(len(names)) if i not in key_indexes]
        updates = non_key or key_names[:1]  # all-key tables: a no-op update keeps the statement valid
        # S608 below: identifiers are quoted by ddl.quote_ident and values by the column encoders.
        built = _TablePlan(
            schema=schema, target=target, encoders=[encoder(column) for column in schema.columns],
            key_indexes=key_indexes, key_encoders=[encoder(schema.columns[i]) for i in key_indexes],
            key_names=key_names,
            insert_prefix=f"INSERT INTO {ddl.qualified(target)} ({', '.join(names)}) VALUES ",  # noqa: S608
            upsert_suffix=" ON DUPLICATE KEY UPDATE " + ", ".join(f"{name} = VALUES({name})" for name in updates),
            delete_prefix=(f"DELETE FROM {ddl.qualified(target)} WHERE "  # noqa: S608
                           + (key_names[0] if len(key_names) == 1 else "(" + ", ".join(key_names) + ")") + " IN ("),
            single_key=len(key_names) == 1,
        )
        self._plans[key] = built
        return built

    def _forget(self, target: TableId) -> None:
        for key in [key for key in self._plans if key[1] == target]:
            del self._plans[key]

    # Statements

    @staticmethod
    def _tuples(encoders: Sequence[Encoder], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
        for row in rows:
            yield "(" + ",".join(["NULL" if value is None else encode(value)
                                  for encode, value in zip(encoders, row, strict=True)]) + ")"

    def _statements(self, prefix: str, parts: Iterable[str], suffix: str, *, limit_items: int = 0) -> Iterator[str]:
        """prefix + comma-joined parts + suffix, split to stay under the statement size limit."""
        budget = self.statement_chars - len(prefix) - len(suffix)
        batch: list[str] = []
        size = 0
        for part in parts:
            if batch and (size + len(part) + 1 > budget or (limit_items and len(batch) >= limit_items)):
                yield prefix + ",".join(batch) + suffix
                batch, size = [], 0
            batch.append(part)
            size += len(part) + 1
        if batch:
            yield prefix + ",".join(batch) + suffix

    def _insert_statements(self, table_plan: _TablePlan, rows: Iterable[Sequence[Any]], *,
                           upsert: bool) -> Iterator[str]:
        suffix = table_plan.upsert_suffix if upsert else ""
        return self._statements(table_plan.insert_prefix, self._tuples(table_plan.encoders, rows), suffix)

    def _delete_statements(self, table_plan: _TablePlan, keys: Iterable[Sequence[Any]]) -> Iterator[str]:
        if table_plan.single_key:
            encode = table_plan.key_encoders[0]
            parts: Iterable[str] = (encode(key[0]) for key in keys)
        else:
            parts = self._tuples(table_plan.key_encoders, keys)
        return self._statements(table_plan.delete_prefix, parts, ")", limit_items=DELETE_KEYS)

    def _run(self, statements: Iterable[str]) -> None:
        with self.connection().cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def _insert(self, table_plan: _TablePlan, rows: Iterable[Sequence[Any]], *, upsert: bool) -> None:
        self._run(self._insert_statements(table_plan, rows, upsert=upsert))

    def _delete_keys(self, table_plan: _TablePlan, keys: Iterable[Sequence[Any]]) -> None:
        self._run(self._delete_statements(table_plan, keys))

    def _delete_range(self, table_plan: _TablePlan, chunk: Chunk) -> None:
        conditions = []
        for bound, operator in ((chunk.low, ">="), (chunk.high, "<")):
            if bound is None:
                continue
            if len(bound) != len(table_plan.key_indexes):
                raise ConnectorError(f"chunk {chunk.index} of {chunk.table}: bound {bound!r} does not match the key "
                                     f"({', '.join(table_plan.schema.key_columns)})")
            values = [encode(value) for encode, value in zip(table_plan.key_encoders, bound, strict=True)]
            conditions.append(_lexicographic(table_plan.key_names, values, operator))
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        self._execute(f"DELETE FROM {ddl.qualified(table_plan.target)}{where}")  # noqa: S608 - quoted, encoded

    # Snapshot chunks

    def load_chunk(self, schema: TableSchema, target: TableId, chunk: Chunk, rows: Iterable[tuple[Any, ...]],
                   *, on_dirty: OnDirty | None = None) -> int:
        """Replace the chunk's key range [low, high) at the target with rows, in one transaction.

        Returns the number of rows written (rows handed to on_dirty are not counted). Without
        on_dirty a dirty row raises DirtyRowError and nothing is committed.
        """
        table_plan = self._plan(schema, target)
        return self._insert_in(table_plan, rows, on_dirty, {"chunk": chunk.to_json()},
                               lambda: self._delete_range(table_plan, chunk), f"chunk {chunk.index} of {schema.table}")

    def _insert_in(self, table_plan: _TablePlan, rows: Iterable[tuple[Any, ...]], on_dirty: OnDirty | None,
                   position: dict[str, Any] | None, first: Callable[[], None], what: str) -> int:
        """`first`, then INSERT rows, in one transaction; when a row is rejected, again row by row.

        Returns the rows written; rows handed to on_dirty are not counted.
        """
        data = rows if isinstance(rows, list) else list(rows)
        conn = self.connection()
        try:
            conn.begin()
            first()
            self._insert(table_plan, data, upsert=False)
            conn.commit()
            return len(data)
        except Exception as exc:
            conn.rollback()
            if not _is_dirty(exc):
                raise
            log.info("%s: bulk load rejected (%s); locating the dirty rows", what, exc)

        def isolated() -> int:
            first()
            return self._isolate(table_plan, [(False, row) for row in data],
                                 lambda part: self._insert(table_plan, [row for _, row in part], upsert=False),
                                 on_dirty, position)

        return self._in_transaction(isolated)

    def _in_transaction(self, body: Callable[[], int]) -> int:
        conn = self.connection()
        conn.begin()
        try:
            result = body()
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return result

    # Change batches

    def _append(self, table_plan: _TablePlan, rows: list[tuple[Any, ...]], on_dirty: OnDirty | None) -> None:
        """Rows of a keyless table, appended with multi-row INSERTs in one transaction (at least once)."""
        self._insert_in(table_plan, rows, on_dirty, None, lambda: None, f"rows appended to {table_plan.schema.table}")

    def write(self, batch: Batch, *, on_dirty: OnDirty | None = None) -> None:
        """Apply a merged batch in one transaction: per table, deletes then upserts, by key.

        Idempotent: INSERT ... ON DUPLICATE KEY UPDATE and deletes of missing keys do nothing
        new on a replay. Dirty rows: see load_chunk.
        """
        work: list[tuple[_TablePlan, TableBatch]] = []
        for table_batch in batch.tables.values():
            if table_batch.appends:
                self._append(self._plan(table_batch.schema, table_batch.target), table_batch.appends, on_dirty)
            if not table_batch.upserts and not table_batch.deletes:
                continue
            table_plan = self._plan(table_batch.schema, table_batch.target)
            if not table_plan.key_indexes:
                raise ConnectorError(f"table {table_batch.schema.table} has no primary key or NOT NULL unique key, "
                                     "so changes cannot be applied by key",
                                     hint="add a primary key at the source, or leave the table out of the task")
            work.append((table_plan, table_batch))
        if not work:
            return
        conn = self.connection()
        began = False
        try:
            statements: list[str] = []
            for table_plan, table_batch in work:
                if table_batch.deletes:
                    statements += self._delete_statements(table_plan, table_batch.deletes)
                if table_batch.upserts:
                    statements += self._insert_statements(table_plan, table_batch.upserts.values(), upsert=True)
            if len(statements) == 1:
                self._run(statements)  # autocommit: a single statement is its own transaction, one round trip
                return
            conn.begin()
            began = True
            self._run(statements)
            conn.commit()
            return
        except Exception as exc:
            if began:
                conn.rollback()
            if not _is_dirty(exc):
                raise
            log.info("change batch rejected (%s); locating the dirty rows", exc)

        def isolated() -> int:
            applied = 0
            for table_plan, table_batch in work:
                items: list[tuple[bool, Sequence[Any]]] = [(True, key) for key in table_batch.deletes]
                items += [(False, row) for row in table_batch.upserts.values()]
                applied += self._isolate(table_plan, items, functools.partial(self._merge, table_plan),
                                         on_dirty, None)
            return applied

        self._in_transaction(isolated)

    def _merge(self, table_plan: _TablePlan, items: Sequence[tuple[bool, Sequence[Any]]]) -> None:
        deletes = [values for is_delete, values in items if is_delete]
        if deletes:
            self._delete_keys(table_plan, deletes)
        upserts = [values for is_delete, values in items if not is_delete]
        if upserts:
            self._insert(table_plan, upserts, upsert=True)

    # Dirty rows

    def _isolate(self, table_plan: _TablePlan, items: list[tuple[bool, Sequence[Any]]],
                 apply: Callable[[list[tuple[bool, Sequence[Any]]]], None], on_dirty: OnDirty | None,
                 position: dict[str, Any] | None) -> int:
        """Apply (is_delete, row-or-key) items in savepoints, setting aside rejected rows; returns how many applied.

        Runs inside the caller's transaction: Python-visible problems first (values no literal can
        express, NULL in NOT NULL), then failing parts are halved until the rejected row is alone.
        """
        schema = table_plan.schema

        def row_of(item: tuple[bool, Sequence[Any]]) -> Sequence[Any]:
            is_delete, values = item
            if not is_delete:
                return values
            row: list[Any] = [None] * len(schema.columns)
            for index, value in zip(table_plan.key_indexes, values, strict=True):
                row[index] = value
            return row

        def reject(item: tuple[bool, Sequence[Any]], column: str | None, reason: str) -> None:
            dirty = quarantined(schema, row_of(item), column, reason, target=str(table_plan.target),
                                position=position)
            log.warning("dirty row in %s: key %s, column %s: %s", schema.table, dirty.key, column, reason)
            if on_dirty is None:
                raise DirtyRowError([dirty])
            on_dirty(dirty)

        good = []
        for item in items:
            problem = _row_problem(schema.columns, row_of(item), check_not_null=not item[0])
            if problem is None:
                good.append(item)
            else:
                reject(item, *problem)

        applied = 0
        pending = [good]
        with self.connection().cursor() as cursor:
            while pending:
                part = pending.pop()
                if not part:
                    continue
                cursor.execute("SAVEPOINT dts_part")
                try:
                    apply(part)
                except Exception as exc:
                    if not _is_dirty(exc):
                        raise
                    cursor.execute("ROLLBACK TO SAVEPOINT dts_part")
                    if len(part) == 1:
                        reject(part[0], _column_in(exc, schema.column_names), _reason(exc))
                    else:
                        middle = len(part) // 2
                        pending += [part[middle:], part[:middle]]  # the first half is tried first
                    continue
                cursor.execute("RELEASE SAVEPOINT dts_part")
                applied += len(part)
        return applied

    # Schema changes

    def plan_ddl(self, event: ChangeEvent, target: TableId) -> list[DdlOp]:
        """The operations apply_ddl would run for event at target, without running them."""
        if event.op != DDL:
            raise ValueError(f"not a DDL event: {event.op}")
        if event.schema is None:  # the table was dropped: no types to compare
            return plan(event.ddl or "", None, target, self.inspect, _never_same)
        mapper = self._mapper(event.schema)
        mapper.check(target)
        return plan(event.ddl or "", event.schema, target, self.inspect, mapper.same_type,
                    event.table.name if event.table else None)

    def apply_ddl(self, event: ChangeEvent, target: TableId) -> None:
        """Bring the target table in line with a DDL event (see connectors.sql_ddl).

        MySQL commits each DDL statement on its own; if one fails halfway, replaying the event
        plans only what is still missing. For a rename, target is where event.table lives at the
        target; the other name comes from the statement, in the same target database.
        """
        ops = self.plan_ddl(event, target)
        if not ops:
            return
        assert event.schema is not None or all(isinstance(op, DropTable | RenameTable) for op in ops)
        mapper = self._mapper(event.schema) if event.schema is not None else None
        for op in ops:
            log.info("DDL on %s: %s", target, op)
            if mapper is None:  # the table is gone from the source under this name: dropped or renamed away
                statements = ([f"RENAME TABLE {ddl.qualified(op.table)} TO {ddl.qualified(op.new)}"]
                              if isinstance(op, RenameTable) else [f"DROP TABLE IF EXISTS {ddl.qualified(op.table)}"])
            else:
                statements = ddl.render(op, mapper, collation=self.collation, has_primary_key=self._has_primary_key,
                                        literal=literal)
            if isinstance(op, CreateTable | RenameTable):
                self._ensure_database(op.new.database if isinstance(op, RenameTable) else op.table.database)
            try:
                for statement in statements:
                    self._execute(statement)
            except pymysql.err.MySQLError as exc:
                if is_transient(exc):
                    raise
                raise ConnectorError(f"could not apply {event.ddl!r} to {target} ({type(op).__name__}): {exc}",
                                     hint="apply the change to the target by hand and resume, or set the task's "
                                          "DDL policy to 'ignore'") from exc
            if isinstance(op, DropTable | RenameTable):
                self._forget(op.table)
        self._forget(target)


def _lexicographic(columns: Sequence[str], values: Sequence[str], operator: str) -> str:
    """(c1, c2) >= (v1, v2) spelled out so every MySQL and MariaDB version uses the key's index."""
    strict = operator[0]  # '>' or '<'
    terms = []
    for i in range(len(columns)):
        parts = [f"{columns[j]} = {values[j]}" for j in range(i)]
        parts.append(f"{columns[i]} {operator if i == len(columns) - 1 else strict} {values[i]}")
        terms.append("(" + " AND ".join(parts) + ")")
    # The leading column's own bound lets the optimizer start a range scan even with the OR.
    lead = f"{columns[0]} {strict}= {values[0]}"
    return "(" + lead + " AND (" + " OR ".join(terms) + "))"


def _row_problem(columns: Sequence[ColumnSchema], row: Sequence[Any], *, check_not_null: bool
                 ) -> tuple[str, str] | None:
    for column, value in zip(columns, row, strict=False):
        if value is None:
            if check_not_null and not column.nullable:
                return column.name, "NULL in a NOT NULL column"
            continue
        try:
            encoder(column)(value)
        except (ValueError, OverflowError, AttributeError, TypeError) as exc:
            return column.name, str(exc)
    return None


def _never_same(current: TargetColumn, column: ColumnSchema) -> bool:
    return False


def _column_in(error: BaseException, names: Sequence[str]) -> str | None:
    message = str(error.args[1]) if len(error.args) > 1 else str(error)
    for pattern in _COLUMN_IN_MESSAGE:
        match = pattern.search(message)
        if match is None:
            continue
        name = match.group(1).replace("``", "`")
        # MariaDB names a JSON column's json_valid() check "table.column".
        for candidate in (name, name.split(".", 1)[-1]):
            if candidate in names:
                return candidate
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, pymysql.err.MySQLError) and len(error.args) > 1:
        return f"{error.args[1]} (error {error.args[0]})"
    return f"{type(error).__name__}: {error}"


def _text(value: Any) -> str:
    # Some MySQL 8 data-dictionary columns come back as bytes (binary collation).
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)
