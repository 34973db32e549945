"""Snapshot reads from PostgreSQL: primary-key chunks without locks, and one chunk's rows.

Chunk bounds come from keyset paging on the key's index (or min/max arithmetic when an integer
key is dense). Each chunk is read in its own REPEATABLE READ, READ ONLY transaction through a
server-side cursor, so memory stays flat whatever the chunk size, and nothing is locked beyond
what any reader takes (ACCESS SHARE).

Columns are selected so that psycopg's text loaders give the same values the change stream
gives (see source_types): types psycopg loads directly are selected as they are, the rest as
``column::text``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from connectors.base import Chunk, keyless_chunk
from connectors.chunking import dense_int_chunks, keyset_chunks
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.postgresql.connection import address, open_connection, redact
from connectors.postgresql.source_types import PgType, fixup
from connectors.types import Kind, TableSchema

log = logging.getLogger(__name__)

FETCH_BATCH = 2000
DEFAULT_QUERY_TIMEOUT = 3600.0
SESSION_SETUP = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO'", "SET IntervalStyle = 'postgres'",
                 "SET extra_float_digits = 3")
# Key kinds whose canonical values compare at the source as they are (bounds go back as parameters).
CHUNKABLE_KEY_KINDS = frozenset({Kind.INT, Kind.DECIMAL, Kind.STRING, Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP,
                                 Kind.UUID, Kind.BYTES, Kind.BOOL, Kind.ENUM})

Connection = psycopg.Connection[tuple[Any, ...]]


def open_session(config: ConnectionConfig, query_timeout: float) -> Connection:
    """An autocommit connection with the session settings both snapshot and stream values rely on."""
    conn = open_connection(config, query_timeout=query_timeout)
    for statement in SESSION_SETUP:
        conn.execute(statement)
    return conn


def pg_types(schema: TableSchema) -> tuple[PgType, ...]:
    types = schema.extra.get("pg_types")
    if types is None or len(types) != len(schema.columns):
        raise ConnectorError(f"the schema of {schema.table} was not read from this PostgreSQL source",
                             hint="read table schemas with the PostgreSQL source's table_schema()")
    return types  # type: ignore[no-any-return]


def table_sql(schema: TableSchema) -> sql.Identifier:
    return sql.Identifier(schema.table.database, schema.table.name)


def key_tuple(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(c) for c in columns))


def params_tuple(count: int) -> sql.Composed:
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() for _ in range(count)))


class SnapshotReader:
    """Chunks and chunk reads over lazily opened connections (one for bounds, reused ones for reads)."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.query_timeout = float(config.options.get("snapshot_query_timeout", DEFAULT_QUERY_TIMEOUT))
        self._control: Connection | None = None
        self._idle: list[Connection] = []

    def _error(self, exc: psycopg.Error) -> str:
        return redact(" ".join(str(exc).split()), self.config.password)

    def control(self) -> Connection:
        if self._control is None or self._control.closed:
            self._control = open_session(self.config, self.query_timeout)
        return self._control

    def close(self) -> None:
        for conn in [*self._idle, self._control]:
            if conn is not None:
                try:
                    conn.close()
                except psycopg.Error as exc:  # a dead socket is fine: we are letting it go
                    log.debug("closing a snapshot connection: %s", exc)
        self._idle = []
        self._control = None

    def _query(self, query: sql.Composed | sql.SQL, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.control().execute(query, list(params)).fetchall()
        except psycopg.OperationalError as exc:
            self._control = None
            raise ConnectionFailed(f"lost the connection to {address(self.config)} finding chunk bounds: "
                                   f"{self._error(exc)}", hint="Check the server; chunking can start again.") from exc
        except psycopg.Error as exc:
            raise ConnectorError(f"finding chunk bounds on {address(self.config)} failed: {self._error(exc)}",
                                 hint="Check the server and the read grants; chunking can start again.") from exc

    # -- chunks ------------------------------------------------------------------------------------

    def chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        table = schema.table
        key = schema.key_columns
        if not key:
            yield keyless_chunk(schema, self.config.options, table_sql(schema).as_string(None))
            return
        kinds = [schema.column(c).type.kind for c in key]
        fixed = [fixup(pg_types(schema)[i]) for i in schema.key_indexes()]
        if any(kind not in CHUNKABLE_KEY_KINDS for kind in kinds) or any(fixed):
            # Bounds of these kinds would not compare at the source as canonical values: one chunk.
            yield Chunk(table, 0, None, None)
            return
        if len(key) == 1 and kinds[0] is Kind.INT:
            dense = self._dense_int_chunks(schema, key[0], chunk_size)
            if dense is not None:
                yield from dense
                return
        columns = key_tuple(key)
        select = sql.SQL("SELECT {cols} FROM {table}").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in key), table=table_sql(schema))
        order = sql.SQL(", ").join(sql.Identifier(c) for c in key)

        def next_bound(low: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
            if low is None:
                rows = self._query(sql.SQL("{} ORDER BY {} LIMIT 1 OFFSET %s").format(select, order), [chunk_size])
            else:
                rows = self._query(sql.SQL("{} WHERE {} >= {} ORDER BY {} LIMIT 1 OFFSET %s").format(
                    select, columns, params_tuple(len(key)), order), [*low, chunk_size])
            return tuple(rows[0]) if rows else None

        yield from keyset_chunks(table, next_bound)

    def _dense_int_chunks(self, schema: TableSchema, column: str, chunk_size: int) -> list[Chunk] | None:
        """Chunks by min/max arithmetic when the keys are dense enough; None to fall back to keyset paging."""
        table = schema.table
        name = sql.Identifier(column)
        ((low, high),) = self._query(sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(
            c=name, t=table_sql(schema)))

        def estimate() -> int:
            ((rows,),) = self._query(sql.SQL("SELECT greatest(reltuples, 0)::int8 FROM pg_class WHERE oid = %s"),
                                     [schema.extra["oid"]])
            return int(rows or 0)

        return dense_int_chunks(table, low, high, estimate, chunk_size)

    # -- reading -----------------------------------------------------------------------------------

    def select_sql(self, schema: TableSchema, chunk: Chunk) -> tuple[sql.Composed, list[Any]]:
        exprs = []
        for column, pg in zip(schema.columns, pg_types(schema), strict=True):
            name = sql.Identifier(column.name)
            exprs.append(sql.SQL("{}::text").format(name) if pg.select_as_text else name)
        conditions: list[sql.Composable] = []
        params: list[Any] = []
        key = schema.key_columns
        if chunk.low is not None:
            conditions.append(sql.SQL("{} >= {}").format(key_tuple(key), params_tuple(len(key))))
            params += chunk.low
        if chunk.high is not None:
            conditions.append(sql.SQL("{} < {}").format(key_tuple(key), params_tuple(len(key))))
            params += chunk.high
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
        query = sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(exprs), table_sql(schema), where)
        return query, params

    def _reader(self) -> Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                return conn
            conn.close()
        return open_session(self.config, self.query_timeout)

    def read(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        query, params = self.select_sql(schema, chunk)
        fixes: list[tuple[int, Callable[[Any], Any]]] = [
            (i, fix) for i, pg in enumerate(pg_types(schema)) if (fix := fixup(pg)) is not None]
        conn = self._reader()
        finished = False
        try:
            conn.autocommit = False
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with conn.cursor(name=f"dts_chunk_{chunk.index}") as cur:
                cur.itersize = FETCH_BATCH
                cur.execute(query, params)
                while True:
                    rows = cur.fetchmany(FETCH_BATCH)
                    if not rows:
                        break
                    if not fixes:
                        yield from rows
                        continue
                    for row in rows:
                        values = list(row)
                        for i, fix in fixes:
                            if values[i] is not None:
                                values[i] = fix(values[i])
                        yield tuple(values)
            conn.commit()
            conn.autocommit = True
            finished = True
        except psycopg.Error as exc:
            raise ConnectorError(f"reading {schema.table} chunk {chunk.index} from {address(self.config)} failed: "
                                 f"{self._error(exc)}", hint="Check the server; the chunk can be read again.") from exc
        finally:
            if finished:
                self._idle.append(conn)
            else:
                conn.close()  # abandoned or failed mid-read: closing ends the transaction and the cursor
