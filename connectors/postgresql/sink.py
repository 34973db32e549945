"""The PostgreSQL sink: creates tables, bulk-loads snapshot chunks, applies merged change batches.

- load_chunk: one transaction deletes the chunk's key range (so a re-run chunk leaves no
  duplicates) and streams the rows through binary COPY with precomputed types; rows go to
  psycopg's C dumpers as they come, with no Python work per value for most tables.
- write: one transaction; per table, deletes then upserts, by key. Batches above SMALL_BATCH rows
  are COPYed into a session-local staging table, then merged by one DELETE ... USING and one
  INSERT ... SELECT ... ON CONFLICT DO UPDATE (measured faster than multi-row VALUES and unnest()
  arrays at 100 and 5,000 rows); smaller ones go as client-side-bound DELETE/INSERT statements in
  one multi-statement query, a single round trip. Replaying a batch changes nothing (invariant 2).
- Dirty rows (see connectors.quarantine) never reach the table altered: when the bulk statement
  fails, the transaction is redone with the rows applied in savepoints, the rejected ones located
  (by a Python check, by the COPY line PostgreSQL names, else by bisection) and either raised as
  DirtyRowError or handed to on_dirty while the rest is written.
- apply_ddl: compares the target's shape with the event's schema (connectors.sql_ddl) and runs the
  resulting statements in one transaction (PostgreSQL DDL is transactional).

Options read from ConnectionConfig.options: "query_timeout" (seconds, default 3600) besides the
connection options of connectors.postgresql.connection. TableId.database is the PostgreSQL schema;
config.database the database, created when missing.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from connectors.base import Batch, Chunk, Sink, TableBatch
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError, is_transient
from connectors.events import DDL, ChangeEvent
from connectors.postgresql import ddl
from connectors.postgresql.connection import (
    DATABASE,
    DEFAULT_DATABASE,
    ConnectStageError,
    database_name,
    open_connection,
)
from connectors.postgresql.connector import PostgreSQLConnector
from connectors.postgresql.values import (
    RowConvert,
    column_converter,
    register_dumpers,
    row_converter,
    row_problem,
)
from connectors.quarantine import DirtyRowError, OnDirty, quarantined
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
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

DEFAULT_QUERY_TIMEOUT = 3600.0
# What a rejected value raises: server-side data and constraint errors, client-side dumper errors.
DIRTY_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.errors.DataError, psycopg.errors.IntegrityError, psycopg.errors.CardinalityViolation,
    ValueError, OverflowError)
# At or below this many rows, one round trip with client-side-bound statements beats the staging
# table's COPY + INSERT ... SELECT (measured on W-rows: 2.5x the batches/s at 2 rows, 1.3x at 8,
# even at 12, 0.6x at 32: client-side binding costs about 2 us per value).
SMALL_BATCH = 10
_COPY_CONTEXT = re.compile(r"COPY [^\n]*?, line (\d+)(?:, column ([^\n]*))?")

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass
class _TablePlan:
    """Everything per (table, schema version) that does not depend on the rows: SQL text and types."""

    schema: TableSchema
    target: TableId
    copy_sql: str
    copy_types: list[str]
    convert: RowConvert | None
    key_indexes: tuple[int, ...]
    range_delete: dict[tuple[bool, bool], str]  # by (has low bound, has high bound)
    # write(): staging table and the statements that merge it into the target
    stage_name: str
    stage_ddl: str
    stage_copy_sql: str
    stage_types: list[str]
    delete_sql: str
    upsert_sql: str
    clear_sql: str
    delete_template: tuple[Any, ...]
    # small batches: one client-side-bound round trip (see write)
    text_convert: RowConvert | None
    key_text_convert: list[Callable[[Any], Any] | None]
    small_delete: Callable[[int], str]
    small_upsert: Callable[[int], str]
    stage_ready: bool = field(default=False)


class PostgreSQLSink(PostgreSQLConnector, Sink):
    """Writes canonical rows into PostgreSQL. One connection; not for use from several threads."""

    supports_sink: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._conn: Connection | None = None
        self._plans: dict[tuple[TableId, TableId], _TablePlan] = {}
        self._stage_numbers = itertools.count(1)
        self.query_timeout = float(config.options.get("query_timeout", DEFAULT_QUERY_TIMEOUT))

    # Connection

    def connection(self) -> Connection:
        """The sink's autocommit connection (transactions are explicit), opened on first use."""
        if self._conn is None or self._conn.closed:
            self._conn = self._open()
            for table_plan in self._plans.values():
                table_plan.stage_ready = False  # temp tables die with the session
        return self._conn

    def _open(self) -> Connection:
        try:
            conn = open_connection(self.config, query_timeout=self.query_timeout)
        except ConnectStageError as exc:
            if exc.stage != DATABASE or "does not exist" not in exc.detail:
                raise
            self._create_database()
            conn = open_connection(self.config, query_timeout=self.query_timeout, probe=False)
        register_dumpers(conn.adapters)
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def _create_database(self) -> None:
        name = database_name(self.config)
        log.info("creating database %s on %s", name, self.config)
        with open_connection(self.config, query_timeout=self.query_timeout, dbname=DEFAULT_DATABASE,
                             probe=False) as admin:
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                log.debug("database %s was created concurrently", name)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # Tables

    def prepare(self, schema: TableSchema, target: TableId, *, if_exists: str = "keep",
                defer_indexes: bool = False) -> None:
        """Create the target schema and table from the canonical schema.

        if_exists says what to do with an existing table: keep it (its shape must match, else a
        ConnectorError lists the differences), drop and re-create it, truncate it (shape must
        match too), or fail. The table gets its primary key (or, without one, a unique index on the
        first all-NOT-NULL unique key) at once: load_chunk's re-run delete and write()'s upserts
        need it. With defer_indexes=True the other unique keys are left out; finish_table() builds
        them after the snapshot, which keeps the bulk load from maintaining them row by row.
        """
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)}, not {if_exists!r}")
        ddl.check_types(schema, target)
        conn = self.connection()
        with conn.transaction():
            self._ensure_schema(target.database)
            shape = self.inspect(target)
            if shape is not None:
                if if_exists == "fail":
                    raise ConnectorError(f"target table {target} already exists",
                                         hint="choose if_exists keep, drop or truncate, or drop the table")
                if if_exists == "drop":
                    conn.execute(sql.SQL("DROP TABLE {}").format(ddl.qualified(target)))
                    shape = None
                else:
                    self._check_shape(shape, schema, target)
                    if if_exists == "truncate":
                        conn.execute(sql.SQL("TRUNCATE TABLE {}").format(ddl.qualified(target)))
            if shape is None:
                for statement in ddl.create_table(schema, target, unique_keys=not defer_indexes):
                    conn.execute(statement)
        self._forget(target)

    def _ensure_schema(self, name: str) -> None:
        conn = self.connection()
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name]).fetchone() is None:
            conn.execute(ddl.create_schema(name))

    def finish_table(self, schema: TableSchema, target: TableId) -> None:
        """After a deferred-index load: build the unique keys prepare() left out, and ANALYZE.

        Idempotent (CREATE UNIQUE INDEX IF NOT EXISTS), so a retried finish is harmless.
        """
        conn = self.connection()
        for key in ddl.index_keys(schema):
            conn.execute(ddl.create_unique_index(target, key))
        conn.execute(sql.SQL("ANALYZE {}").format(ddl.qualified(target)))

    @staticmethod
    def _check_shape(shape: TargetShape, schema: TableSchema, target: TableId) -> None:
        problems = shape_differences(shape, schema, ddl.same_type)
        if problems:
            raise ConnectorError(
                f"target table {target} exists with a different shape: " + "; ".join(problems),
                hint="use if_exists='drop' to re-create it, or alter the target table to match the source")

    def inspect(self, target: TableId) -> TargetShape | None:
        """The target table's columns (types as format_type prints them) and keys, or None if absent."""
        conn = self.connection()
        found = conn.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            [target.database, target.name]).fetchone()
        if found is None:
            return None
        oid = found[0]
        columns = tuple(TargetColumn(name, type_text, nullable) for name, type_text, nullable in conn.execute(
            "SELECT attname::text, format_type(atttypid, atttypmod), NOT attnotnull FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [oid]))
        primary: tuple[str, ...] = ()
        unique: list[tuple[str, ...]] = []
        for is_primary, names in conn.execute(
                "SELECT i.indisprimary, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY "
                "AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "ORDER BY k.ord) FROM pg_index i WHERE i.indrelid = %s AND i.indisunique "
                "AND i.indpred IS NULL AND i.indexprs IS NULL ORDER BY i.indexrelid", [oid]):
            if is_primary:
                primary = tuple(names)
            else:
                unique.append(tuple(names))
        return TargetShape(columns, primary, tuple(unique))

    def _primary_key_name(self, target: TableId) -> str | None:
        row = self.connection().execute(
            "SELECT con.conname::text FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s "
            "AND con.contype = 'p'", [target.database, target.name]).fetchone()
        return row[0] if row else None

    # Per-table plans

    def _plan(self, schema: TableSchema, target: TableId) -> _TablePlan:
        key = (schema.table, target)
        cached = self._plans.get(key)
        if cached is not None and (cached.schema is schema or cached.schema == schema):
            return cached
        built = self._build_plan(schema, target)
        if cached is not None and cached.stage_ready and self._conn is not None and not self._conn.closed:
            # The old staging table is useless now; drop it rather than keep it for the session.
            self._conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(cached.stage_name)))
        self._plans[key] = built
        return built

    def _forget(self, target: TableId) -> None:
        for key in [key for key in self._plans if key[1] == target]:
            del self._plans[key]

    def _build_plan(self, schema: TableSchema, target: TableId) -> _TablePlan:
        conn = self.connection()
        columns = schema.columns
        copy_types = [ddl.column_types(column, schema.table)[1] for column in columns]
        names = sql.SQL(", ").join(sql.Identifier(name) for name in schema.column_names)
        table = ddl.qualified(target)
        key_names = schema.key_columns
        key_indexes = schema.key_indexes()
        flag = _unused_name("_dts_delete", schema.column_names)
        stage_name = f"_dts_stage_{next(self._stage_numbers)}"
        stage = sql.Identifier(stage_name)
        stage_columns = sql.SQL(", ").join([*(sql.Identifier(n) for n in schema.column_names), sql.Identifier(flag)])
        non_key = [name for name in schema.column_names if name not in key_names]
        on_conflict: sql.Composable
        if non_key:
            on_conflict = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in non_key))
        else:
            on_conflict = sql.SQL("DO NOTHING")
        key_sql = sql.SQL(", ").join(sql.Identifier(name) for name in key_names)
        match = sql.SQL(" AND ").join(sql.SQL("d.{0} = s.{0}").format(sql.Identifier(name)) for name in key_names)

        def text(statement: sql.Composable) -> str:
            return statement.as_string(conn)

        return _TablePlan(
            schema=schema, target=target,
            copy_sql=text(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, names)),
            copy_types=copy_types, convert=row_converter(columns), key_indexes=key_indexes,
            range_delete={(low, high): text(_range_delete(target, key_names, low, high))
                          for low in (False, True) for high in (False, True)},
            stage_name=stage_name,
            stage_ddl=text(ddl.staging_table(schema, schema.table, stage_name, flag)),
            stage_copy_sql=text(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, stage_columns)),
            stage_types=[*copy_types, "bool"],
            delete_sql=text(sql.SQL("DELETE FROM {} AS d USING {} AS s WHERE s.{} AND {}").format(
                table, stage, sql.Identifier(flag), match)) if key_names else "",
            upsert_sql=text(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE NOT {} ON CONFLICT ({}) {}").format(
                table, names, names, stage, sql.Identifier(flag), key_sql, on_conflict)) if key_names else "",
            clear_sql=text(sql.SQL("DELETE FROM {}").format(stage)),
            delete_template=(None,) * len(columns) + (True,),
            text_convert=row_converter(columns, binary=False),
            key_text_convert=[column_converter(schema.column(name), binary=False) for name in key_names],
            small_delete=functools.lru_cache(maxsize=SMALL_BATCH)(functools.partial(_small_delete, target, key_names)),
            small_upsert=functools.lru_cache(maxsize=SMALL_BATCH)(functools.partial(
                _small_upsert, target, schema.column_names, key_names)),
        )

    # Snapshot chunks

    def load_chunk(self, schema: TableSchema, target: TableId, chunk: Chunk, rows: Iterable[tuple[Any, ...]],
                   *, on_dirty: OnDirty | None = None) -> int:
        """Replace the chunk's key range [low, high) at the target with rows, in one transaction.

        Rows stream into binary COPY as they arrive (and are kept, in case a dirty row forces
        the slower path). Returns the number of rows written; rows handed to on_dirty are not
        counted. Without on_dirty a dirty row raises DirtyRowError and nothing is committed.
        """
        table_plan = self._plan(schema, target)
        return self._copy_in(table_plan, rows, on_dirty, {"chunk": chunk.to_json()},
                             lambda: self._delete_range(table_plan, chunk), f"chunk {chunk.index} of {schema.table}")

    def _copy_in(self, table_plan: _TablePlan, rows: Iterable[tuple[Any, ...]], on_dirty: OnDirty | None,
                 position: dict[str, Any] | None, first: Callable[[], None], what: str) -> int:
        """`first`, then COPY rows, in one transaction; when a row is rejected, again row by row.

        Rows stream into COPY as they arrive and are kept, in case a dirty row forces the slower
        path. Returns the rows written; rows handed to on_dirty are not counted.
        """
        conn = self.connection()
        source: Iterator[tuple[Any, ...]] = iter(rows)
        kept: list[Sequence[Any]] = []
        try:
            with conn.transaction():
                first()
                self._copy(table_plan.copy_sql, table_plan.copy_types, table_plan.convert, source, kept)
            return len(kept)
        except DIRTY_ERRORS as exc:
            log.info("%s: bulk load rejected (%s); locating the dirty rows", what, _first_line(exc))
        kept.extend(source)
        with conn.transaction():
            first()
            return self._isolate(
                table_plan, kept, lambda part: self._copy(table_plan.copy_sql, table_plan.copy_types,
                                                          table_plan.convert, part, None),
                on_dirty, position, staged=False)

    def _delete_range(self, table_plan: _TablePlan, chunk: Chunk) -> None:
        params: list[Any] = []
        for bound in (chunk.low, chunk.high):
            if bound is None:
                continue
            if len(bound) != len(table_plan.key_indexes):
                raise ConnectorError(f"chunk {chunk.index} of {chunk.table}: bound {bound!r} does not match the key "
                                     f"({', '.join(table_plan.schema.key_columns)})")
            params += [value if convert is None or value is None else convert(value)
                       for convert, value in zip(table_plan.key_text_convert, bound, strict=True)]
        self.connection().execute(table_plan.range_delete[chunk.low is not None, chunk.high is not None], params)

    def _copy(self, statement: str, types: list[str], convert: RowConvert | None, rows: Iterable[Sequence[Any]],
              keep: list[Sequence[Any]] | None) -> None:
        conn = self.connection()
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            write = copy.write_row
            # Four loops rather than tests inside one: this is the per-row hot path.
            if keep is not None:
                append = keep.append
                if convert is None:
                    for row in rows:
                        append(row)
                        write(row)
                else:
                    for row in rows:
                        append(row)
                        write(convert(row))
            elif convert is None:
                for row in rows:
                    write(row)
            else:
                for row in rows:
                    write(convert(row))

    # Change batches

    def write(self, batch: Batch, *, on_dirty: OnDirty | None = None) -> None:
        """Apply a merged batch in one transaction: per table, deletes then upserts, by key.

        Idempotent: upserts are INSERT ... ON CONFLICT DO UPDATE and deletes of missing keys do
        nothing, so replaying a batch changes nothing. Dirty rows: see load_chunk.
        """
        work: list[tuple[_TablePlan, list[Sequence[Any]]]] = []
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
            work.append((table_plan, self._stage_items(table_plan, table_batch)))
        if not work:
            return
        conn = self.connection()
        try:
            if batch.row_count <= SMALL_BATCH:
                self._write_small(work)
                return
            for table_plan, _items in work:
                self._ensure_stage(table_plan)
            with conn.transaction():
                for table_plan, items in work:
                    self._merge(table_plan, items, clear=False)
            return
        except DIRTY_ERRORS as exc:
            log.info("change batch rejected (%s); locating the dirty rows", _first_line(exc))
        for table_plan, _items in work:
            self._ensure_stage(table_plan)
        with conn.transaction():
            for table_plan, items in work:
                self._isolate(table_plan, items, functools.partial(self._merge, table_plan, clear=True),
                              on_dirty, None, staged=True)

    def _append(self, table_plan: _TablePlan, rows: list[tuple[Any, ...]], on_dirty: OnDirty | None) -> None:
        """Rows of a keyless table, appended with COPY in one transaction (at least once)."""
        self._copy_in(table_plan, rows, on_dirty, None, lambda: None,
                      f"rows appended to {table_plan.schema.table}")

    def _write_small(self, work: list[tuple[_TablePlan, list[Sequence[Any]]]]) -> None:
        """Deletes then upserts as one multi-statement query: one round trip, one implicit transaction.

        PostgreSQL runs the statements of one simple-protocol query as a single transaction, so a
        failure anywhere rolls all of it back, as the staging path's explicit transaction would.
        """
        statements: list[str] = []
        params: list[Any] = []
        for table_plan, items in work:
            deletes = [item for item in items if item[-1]]
            upserts = [item for item in items if not item[-1]]
            if deletes:
                statements.append(table_plan.small_delete(len(deletes)))
                converters = table_plan.key_text_convert
                for item in deletes:
                    for index, convert in zip(table_plan.key_indexes, converters, strict=True):
                        value = item[index]
                        params.append(value if convert is None else convert(value))
            if upserts:
                statements.append(table_plan.small_upsert(len(upserts)))
                convert_row = table_plan.text_convert
                for item in upserts:
                    row = item[:-1]
                    params.extend(row if convert_row is None else convert_row(row))
        with psycopg.ClientCursor(self.connection()) as cursor:
            cursor.execute("; ".join(statements), params)

    def _ensure_stage(self, table_plan: _TablePlan) -> None:
        if not table_plan.stage_ready:
            self.connection().execute(table_plan.stage_ddl)
            table_plan.stage_ready = True

    @staticmethod
    def _stage_items(table_plan: _TablePlan, table_batch: TableBatch) -> list[Sequence[Any]]:
        """Staging rows: the row plus a False flag for upserts; the key alone plus True for deletes."""
        items: list[Sequence[Any]] = []
        template = table_plan.delete_template
        key_indexes = table_plan.key_indexes
        for key in table_batch.deletes:
            item = list(template)
            for index, value in zip(key_indexes, key, strict=True):
                item[index] = value
            items.append(item)
        items.extend((*row, False) for row in table_batch.upserts.values())
        return items

    def _merge(self, table_plan: _TablePlan, items: Sequence[Sequence[Any]], *, clear: bool) -> None:
        self._copy(table_plan.stage_copy_sql, table_plan.stage_types, table_plan.convert, items, None)
        conn = self.connection()
        if any(item[-1] for item in items):
            conn.execute(table_plan.delete_sql)
        if not all(item[-1] for item in items):
            conn.execute(table_plan.upsert_sql)
        if clear:  # savepoint-by-savepoint: the next part must not see this one's rows
            conn.execute(table_plan.clear_sql)

    # Dirty rows

    def _isolate(self, table_plan: _TablePlan, items: list[Sequence[Any]],
                 apply: Callable[[list[Sequence[Any]]], None], on_dirty: OnDirty | None,
                 position: dict[str, Any] | None, *, staged: bool) -> int:
        """Apply items in savepoints, setting aside those the target rejects; returns how many were applied.

        Runs inside the caller's transaction. Python-visible problems (NUL in text, NULL in a
        NOT NULL column, out-of-range values) are found first, naming the column exactly; then
        each failing part is narrowed by the COPY line PostgreSQL reports, else by halving.
        """
        schema = table_plan.schema
        columns = schema.columns
        width = len(columns)

        def reject(item: Sequence[Any], column: str | None, reason: str) -> None:
            row = item[:width]
            dirty = quarantined(schema, row, column, reason, target=str(table_plan.target), position=position)
            log.warning("dirty row in %s: key %s, column %s: %s", schema.table, dirty.key, column, reason)
            if on_dirty is None:
                raise DirtyRowError([dirty])
            on_dirty(dirty)

        good: list[Sequence[Any]] = []
        for item in items:
            problem = row_problem(columns, item[:width], check_not_null=not (staged and item[-1]))
            if problem is None:
                good.append(item)
            else:
                reject(item, *problem)

        conn = self.connection()
        applied = 0
        pending = [good]
        while pending:
            part = pending.pop()
            if not part:
                continue
            try:
                with conn.transaction():
                    apply(part)
                applied += len(part)
                continue
            except DIRTY_ERRORS as exc:
                error: BaseException = exc
            line, column = _copy_position(error, schema.column_names)
            if len(part) == 1:
                reject(part[0], column, _reason(error))
            elif line is not None and line <= len(part):
                reject(part[line - 1], column, _reason(error))
                pending.append(part[:line - 1] + part[line:])
            else:
                middle = len(part) // 2
                pending += [part[middle:], part[:middle]]  # the first half is tried first
        return applied

    # Schema changes

    def plan_ddl(self, event: ChangeEvent, target: TableId) -> list[DdlOp]:
        """The operations apply_ddl would run for event at target, without running them."""
        if event.op != DDL:
            raise ValueError(f"not a DDL event: {event.op}")
        if event.schema is not None:
            ddl.check_types(event.schema, target)
        return plan(event.ddl or "", event.schema, target, self.inspect, ddl.same_type,
                    event.table.name if event.table else None)

    def apply_ddl(self, event: ChangeEvent, target: TableId) -> None:
        """Bring the target table in line with a DDL event, in one transaction.

        Compares the target's current shape with event.schema (see connectors.sql_ddl): adds,
        drops, renames and retypes columns, creates, drops, renames and truncates tables. For a
        rename, target is where event.table lives at the target; the other name comes from the
        statement, in the same target schema. Replaying an applied event does nothing.
        """
        ops = self.plan_ddl(event, target)
        conn = self.connection()
        current: DdlOp | None = None
        try:
            with conn.transaction():
                for current in ops:
                    log.info("DDL on %s: %s", target, current)
                    if isinstance(current, CreateTable | RenameTable):
                        self._ensure_schema(current.new.database if isinstance(current, RenameTable)
                                            else current.table.database)
                    for statement in ddl.render(current, self._primary_key_name):
                        conn.execute(statement)
        except psycopg.Error as exc:
            if is_transient(exc):
                raise
            raise ConnectorError(f"could not apply {event.ddl!r} to {target} ({type(current).__name__}): "
                                 f"{_first_line(exc)}",
                                 hint="apply the change to the target by hand and resume, or set the task's DDL "
                                      "policy to 'ignore'") from exc
        for op in ops:
            if isinstance(op, DropTable | RenameTable):
                self._forget(op.table)
        self._forget(target)


def _range_delete(target: TableId, key: Sequence[str], low: bool, high: bool) -> sql.Composed:
    """DELETE of a key range, by row-value comparison (which a btree index on the key serves)."""
    table = ddl.param_qualified(target)
    columns = sql.SQL("({})").format(sql.SQL(", ").join(ddl.param_ident(name) for name in key))
    values = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() for _ in key))
    conditions = [sql.SQL("{} {} {}").format(columns, sql.SQL(operator), values)
                  for present, operator in ((low, ">="), (high, "<")) if present]
    if not conditions:
        return sql.SQL("DELETE FROM {}").format(table)
    return sql.SQL("DELETE FROM {} WHERE {}").format(table, sql.SQL(" AND ").join(conditions))


def _small_delete(target: TableId, key: Sequence[str], count: int) -> str:
    columns = sql.SQL(", ").join(ddl.param_ident(name) for name in key)
    one = "(" + ", ".join(["%s"] * len(key)) + ")"
    return sql.SQL("DELETE FROM {} WHERE ({}) IN ({})").format(
        ddl.param_qualified(target), columns, sql.SQL(", ".join([one] * count))).as_string(None)


def _small_upsert(target: TableId, names: Sequence[str], key: Sequence[str], count: int) -> str:
    columns = sql.SQL(", ").join(ddl.param_ident(name) for name in names)
    non_key = [name for name in names if name not in key]
    on_conflict: sql.Composable = sql.SQL("DO NOTHING")
    if non_key:
        on_conflict = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(ddl.param_ident(name)) for name in non_key))
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    return sql.SQL("INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {}").format(
        ddl.param_qualified(target), columns, sql.SQL(", ".join([one] * count)),
        sql.SQL(", ").join(ddl.param_ident(name) for name in key), on_conflict).as_string(None)


def _unused_name(name: str, taken: Sequence[str]) -> str:
    candidate = name
    for number in itertools.count(2):
        if candidate not in taken:
            return candidate
        candidate = f"{name}_{number}"
    raise AssertionError("unreachable")


def _copy_position(error: BaseException, column_names: Sequence[str]) -> tuple[int | None, str | None]:
    """(1-based COPY line, column) from PostgreSQL's error context, when it names them."""
    if not isinstance(error, psycopg.Error):
        return None, None
    diag = error.diag
    column = diag.column_name
    match = _COPY_CONTEXT.search(diag.context or "")
    if match is None:
        return None, column
    rest = match.group(2) or ""
    # The context does not quote the column name: take the longest name the text starts with.
    named = [name for name in column_names if rest == name or rest.startswith(name + ":")
             or rest.startswith(name + " ") or rest.startswith(name + ",")]
    if named:
        column = max(named, key=len)
    return int(match.group(1)), column


def _reason(error: BaseException) -> str:
    if isinstance(error, psycopg.Error):
        diag = error.diag
        text = diag.message_primary or str(error)
        return f"{text} ({diag.message_detail})" if diag.message_detail else text
    return f"{type(error).__name__}: {error}"


def _first_line(error: BaseException) -> str:
    return str(error).split("\n", 1)[0]
