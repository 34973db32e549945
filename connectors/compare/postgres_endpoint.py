"""The PostgreSQL side of a compare: canonical SQL texts, the table's schema in canonical types, reads.

The session runs in UTC, so timestamptz prints as the instant in UTC, like MySQL's TIMESTAMP read
with time_zone '+00:00'.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from connectors.base import Chunk
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.postgresql.connection import address, open_connection
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

from .endpoint import ROW_SEPARATOR, Endpoint

log = logging.getLogger(__name__)
QUERY_TIMEOUT = 3600.0
_INTS = {"smallint": 16, "integer": 32, "bigint": 64}
_INTEGER_TYPES = frozenset(_INTS)


def canonical_type(native: str) -> CanonicalType:
    """format_type() text -> canonical type (what PostgreSQL columns compare as)."""
    base, _, args = native.partition("(")
    base = base.strip()
    numbers = [int(n) for n in re.findall(r"\d+", args)]
    if base in _INTS:
        return CanonicalType(Kind.INT, bits=_INTS[base], native=native)
    if base == "numeric":
        return CanonicalType(Kind.DECIMAL, precision=numbers[0] if numbers else None,
                             scale=numbers[1] if len(numbers) > 1 else (0 if numbers else None), native=native)
    if base in ("real", "double precision"):
        return CanonicalType(Kind.FLOAT, bits=32 if base == "real" else 64, native=native)
    if base == "boolean":
        return CanonicalType(Kind.BOOL, native=native)
    if base in ("bit", "bit varying"):
        return CanonicalType(Kind.BIT, length=numbers[0] if numbers else None, native=native)
    if base in ("character varying", "character", "text", "name", "citext"):
        return CanonicalType(Kind.STRING, length=numbers[0] if numbers else None, fixed=base == "character",
                             native=native)
    if base == "bytea":
        return CanonicalType(Kind.BYTES, native=native)
    if base in ("json", "jsonb"):
        return CanonicalType(Kind.JSON, native=native)
    if base == "date":
        return CanonicalType(Kind.DATE, native=native)
    if base in ("interval", "time without time zone", "time"):
        return CanonicalType(Kind.TIME, fsp=numbers[0] if numbers else 6, native=native)
    if base.startswith("timestamp"):
        kind = Kind.TIMESTAMP if "with time zone" in native and "without" not in native else Kind.DATETIME
        return CanonicalType(kind, fsp=numbers[0] if numbers else 6, native=native)
    if base == "uuid":
        return CanonicalType(Kind.UUID, native=native)
    return CanonicalType(Kind.UNKNOWN, native=native)


class PostgresEndpoint(Endpoint):
    engine = "postgresql"

    def __init__(self, config: ConnectionConfig, *, zero_date_policy: str = "null") -> None:
        super().__init__(config, zero_date_policy=zero_date_policy)
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            conn = open_connection(self.config, query_timeout=float(self.config.options.get("query_timeout",
                                                                                          QUERY_TIMEOUT)))
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute("SET DateStyle = 'ISO, YMD'")  # date and timestamp as text: as MySQL prints them
            self._conn = conn
        return self._conn

    def quote(self, name: str) -> str:
        return sql.Identifier(name).as_string(self.connection())

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self.connection().execute(statement.encode() if not params else statement,  # type: ignore[arg-type]
                                               list(params) or None)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise ConnectorError(f"compare query on {address(self.config)} failed: {exc}",
                                 hint="Check the server and the user's SELECT privilege; the compare can be "
                                      "run again.") from exc

    def schema(self, table: TableId) -> TableSchema:
        qualified = f"{self.quote(table.database)}.{self.quote(table.name)}"
        rows = self.query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", [qualified])
        if not rows:
            raise ConnectorError(f"table {table} does not exist in database {self.config.database!r} on "
                                 f"{address(self.config)}", hint="Check the table name in the compare's scope.")
        columns = tuple(ColumnSchema(name, canonical_type(native), bool(nullable)) for name, native, nullable in rows)
        keys = self.query(
            "SELECT i.indisprimary, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL "
            "ORDER BY NOT i.indisprimary, i.indexrelid", [qualified])
        primary = next((tuple(cols) for is_primary, cols in keys if is_primary), ())
        unique = tuple(tuple(cols) for is_primary, cols in keys if not is_primary)
        return TableSchema(table, columns, primary, unique)

    def canonical_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        c = self.quote(column.name)
        kind = source.kind
        here = column.type
        if kind in (Kind.INT, Kind.YEAR, Kind.UUID):
            return f"{c}::text"
        if kind == Kind.DECIMAL:
            if here.kind == Kind.DECIMAL and here.scale == source.scale:
                return f"{c}::text"  # numeric(p,s) prints at its scale
            return f"round({c}::numeric, {int(source.scale or 0)})::text"
        if kind in (Kind.STRING, Kind.ENUM, Kind.SET):
            text = f"{c}::text" if here.fixed else c  # character(n) as text drops the padding, as MySQL CHAR
            return f"(char_length({text}) || ':' || {text})"
        if kind == Kind.BYTES:
            return f"upper(encode({c}, 'hex'))"
        if kind == Kind.DATE:
            return f"to_char({c}, 'YYYY-MM-DD')"
        if kind in (Kind.DATETIME, Kind.TIMESTAMP):
            # As MySQL prints a DATETIME(fsp): fsp fractional digits, none for 0.
            fraction = f".FF{source.fsp}" if source.fsp else ""
            return f"to_char({c}, 'YYYY-MM-DD HH24:MI:SS{fraction}')"
        if kind == Kind.BOOL:
            return f"(CASE WHEN {c} THEN '1' ELSE '0' END)"
        raise ValueError(f"no canonical SQL text for {kind}")

    def fast_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        c = self.quote(column.name)
        here = column.type.kind
        # The type's own output (DateStyle ISO) where it prints as MySQL does: cheaper than to_char.
        if source.kind == Kind.DATE and here == Kind.DATE:
            return f"{c}::text"
        if source.kind == Kind.DATETIME and not source.fsp and here == Kind.DATETIME:
            return f"{c}::text"  # whole seconds print without a fraction; a fraction is a real difference
        return self.canonical_expr(table, column, source)

    def digest(self, table: TableId, text: str, key: Sequence[str], chunk: Chunk) -> tuple[int, str | None] | None:
        where, params = self.where(key, chunk)
        order = ", ".join(self.quote(c) for c in key)
        # string_agg takes the ordered subquery's rows in order; ORDER BY inside the aggregate would sort again.
        statement = (f"SELECT count(*), md5(string_agg(t, '{ROW_SEPARATOR}')) FROM "  # noqa: S608 - quoted
                     f"(SELECT {text} AS t FROM {self.table_sql(table)}{where} ORDER BY {order}) AS s")
        try:
            rows = self.connection().execute(statement, list(params) or None).fetchall()
        except (psycopg.errors.ProgramLimitExceeded, psycopg.errors.OutOfMemory) as exc:
            # Rows far larger than the table's average: the joined text does not fit (1 GB at most).
            log.info("%s: chunk %s is too large for a digest (%s); comparing per-row sums", table, chunk.index, exc)
            return None
        except psycopg.Error as exc:
            raise ConnectorError(f"compare query on {address(self.config)} failed: {exc}",
                                 hint="Check the server and the user's SELECT privilege; the compare can be "
                                      "run again.") from exc
        return int(rows[0][0]), (str(rows[0][1]) if rows[0][1] is not None else None)

    def estimate_row_bytes(self, table: TableId) -> int:
        # With its TOAST (long values live there); reltuples is -1 before the first ANALYZE: unknown.
        rows = self.query("SELECT CASE WHEN reltuples > 0 THEN (pg_table_size(oid) / reltuples)::bigint ELSE 0 END "
                          "FROM pg_class WHERE oid = to_regclass(%s)", [self.table_sql(table)])
        return int(rows[0][0] or 0) if rows else 0

    def row_hash(self, texts: Sequence[str]) -> str:
        return f"('x' || substr(md5(concat_ws('|', {', '.join(texts)})), 1, 15))::bit(60)::bigint"

    def bucket_expr(self, column: ColumnSchema) -> str:
        c = self.quote(column.name)
        if column.type.native in _INTEGER_TYPES:
            # Integer division truncates; the origin is at or below every key, so it floors.
            return f"(({c} - %s::bigint) / %s::bigint)"
        return f"floor(({c} - %s) / %s)::bigint"

    def read_expr(self, column: ColumnSchema) -> str:
        c = self.quote(column.name)
        if column.type.kind in (Kind.JSON, Kind.BIT):
            return f"{c}::text"
        return c

    def estimate_rows(self, table: TableId) -> int:
        rows = self.query("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                          [self.table_sql(table)])
        return max(0, int(rows[0][0] or 0)) if rows else 0

    def load(self) -> int | None:
        rows = self.query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()")
        return int(rows[0][0])

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
