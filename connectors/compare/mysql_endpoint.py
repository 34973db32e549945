"""The MySQL/MariaDB side of a compare: canonical SQL texts, reads with the source's own converters."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pymysql

from connectors.base import Chunk
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.mysql.connection import address, connect, error_message, quote_ident
from connectors.mysql.schema_history import read_table_schema
from connectors.mysql.snapshot import json_text
from connectors.mysql.types import bit_value, float32_rows, text_converters
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

from .endpoint import DIGEST_BYTES, ROW_SEPARATOR, Endpoint

log = logging.getLogger(__name__)
QUERY_TIMEOUT = 3600.0
# Client protocol field types (as in connectors.mysql.snapshot).
_TIMESTAMP, _DATE, _TIME, _DATETIME, _NEWDATE, _BIT, _JSON = 7, 10, 11, 12, 14, 16, 245
_DATE_KINDS = frozenset({Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP})
_UTF8 = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})  # already UTF-8 bytes for MD5: no CONVERT needed


class MySQLEndpoint(Endpoint):
    engine = "mysql"

    def __init__(self, config: ConnectionConfig, *, zero_date_policy: str = "null") -> None:
        super().__init__(config, zero_date_policy=zero_date_policy)
        self._conn: Any = None
        self._mariadb: bool | None = None
        self._charsets: dict[tuple[TableId, str], str] = {}

    def connection(self) -> Any:
        if self._conn is None:
            conn = connect(self.config, query_timeout=float(self.config.options.get("query_timeout", QUERY_TIMEOUT)))
            # Values as the sync engine's snapshot reads them: zero dates per policy, BIT as int, JSON as text.
            policy = "null" if self.zero_date_policy == "fail" else self.zero_date_policy
            converters = text_converters(policy)
            decoders = dict(pymysql.converters.decoders)
            decoders.update({_DATE: converters[Kind.DATE], _NEWDATE: converters[Kind.DATE],
                             _DATETIME: converters[Kind.DATETIME], _TIMESTAMP: converters[Kind.TIMESTAMP],
                             _TIME: converters[Kind.TIME], _BIT: bit_value, _JSON: json_text})
            conn.decoders = decoders
            with conn.cursor() as cur:
                cur.execute("SELECT @@SESSION.sql_mode, VERSION()")
                mode, version = cur.fetchone()
                # Zero dates must stay readable and comparable, whatever the server's default mode.
                kept = ",".join(m for m in str(mode).split(",") if m and m not in ("NO_ZERO_DATE", "NO_ZERO_IN_DATE"))
                # A digest's GROUP_CONCAT must never be cut short (a cut is detected, see digest()).
                cur.execute("SET SESSION sql_mode = %s, time_zone = '+00:00', group_concat_max_len = %s",
                            (kept, 4 * DIGEST_BYTES))
            self._mariadb = "mariadb" in str(version).lower()
            self._conn = conn
        return self._conn

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.connection().cursor() as cur:
                cur.execute(statement, list(params))
                return list(cur.fetchall())
        except pymysql.err.MySQLError as exc:
            raise ConnectorError(f"compare query on {address(self.config)} failed: "
                                 f"{error_message(exc, self.config.password)}",
                                 hint="Check the server and the user's SELECT privilege; the compare can be "
                                      "run again.") from exc

    def schema(self, table: TableId) -> TableSchema:
        self.connection()
        schema = read_table_schema(self.connection(), table, self.zero_date_policy, mariadb=bool(self._mariadb))
        if schema is None:
            raise ConnectorError(f"table {table} does not exist on {address(self.config)}",
                                 hint="Check the table name in the compare's scope.")
        for name, charset in self.query("SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                                        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", [table.database, table.name]):
            self._charsets[(table, str(name))] = str(charset or "").lower()
        return schema

    def canonical_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        c = self.quote(column.name)
        kind = source.kind
        here = column.type
        if kind in (Kind.INT, Kind.YEAR):
            return c  # CONCAT_WS prints integers as decimal text
        if kind == Kind.DECIMAL:
            if here.kind == Kind.DECIMAL and here.scale == source.scale:
                return c  # a DECIMAL prints at its scale
            return f"CAST(CAST({c} AS DECIMAL(65,{int(source.scale or 0)})) AS CHAR)"
        if kind in (Kind.STRING, Kind.ENUM, Kind.SET):
            text = c if self._charsets.get((table, column.name), "") in _UTF8 else f"CONVERT({c} USING utf8mb4)"
            return f"CONCAT(CHAR_LENGTH({c}), ':', {text})"
        if kind == Kind.BYTES:
            return f"HEX({c})"
        if kind in _DATE_KINDS:
            fsp = source.fsp if kind != Kind.DATE else 0
            printed = c if kind == Kind.DATE or here.fsp == fsp else f"CAST({c} AS DATETIME({fsp}))"
            epoch = "1970-01-01" if kind == Kind.DATE else "1970-01-01 00:00:00" + ("." + "0" * fsp if fsp else "")
            zero = f"'{epoch}'" if self.zero_date_policy == "epoch" else "NULL"
            # Zero dates (year 0, month 0 or day 0) became what the task's policy says at the target.
            return (f"CASE WHEN {c} < '0001-01-01' OR MONTH({c}) = 0 OR DAYOFMONTH({c}) = 0 THEN {zero} "
                    f"ELSE CAST({printed} AS CHAR) END")
        if kind == Kind.UUID:
            return f"LOWER({c})"
        if kind == Kind.BOOL:
            return f"IF({c}, '1', '0')"
        raise ValueError(f"no canonical SQL text for {kind}")

    def fast_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        if source.kind in _DATE_KINDS:
            # As printed, without the zero-date test (a fifth of the row's cost): a zero date prints
            # '0000-00-00', which the other side never prints, so its chunk is drilled into, and the
            # drill-down's canonical_expr counts it as the zero_date_policy says.
            fsp = source.fsp if source.kind != Kind.DATE else 0
            c = self.quote(column.name)
            return c if source.kind == Kind.DATE or column.type.fsp == fsp else f"CAST({c} AS DATETIME({fsp}))"
        return self.canonical_expr(table, column, source)

    def can_digest(self, schema: TableSchema, key: Sequence[str]) -> bool:
        # The range is read through the clustered PRIMARY index, in its order: the key must be the primary key.
        return bool(schema.primary_key) and tuple(schema.primary_key) == tuple(key)

    def digest(self, table: TableId, text: str, key: Sequence[str], chunk: Chunk) -> tuple[int, str | None] | None:
        where, params = self.where(key, chunk)
        # No GROUP_CONCAT ORDER BY (a sort per chunk): an aggregate over a range of the clustered
        # index sees its rows in primary-key order.
        statement = (f"SELECT COUNT(*), MD5(GROUP_CONCAT({text} SEPARATOR '{ROW_SEPARATOR}')) "  # noqa: S608
                     f"FROM {self.table_sql(table)} FORCE INDEX (PRIMARY){where}")
        try:
            with self.connection().cursor() as cur:
                cur.execute(statement, list(params))
                rows, digest = cur.fetchone()
                truncated = cur.warning_count > 0  # GROUP_CONCAT cut at group_concat_max_len
        except pymysql.err.MySQLError as exc:
            raise ConnectorError(f"compare query on {address(self.config)} failed: "
                                 f"{error_message(exc, self.config.password)}",
                                 hint="Check the server and the user's SELECT privilege; the compare can be "
                                      "run again.") from exc
        if truncated:
            log.info("%s: chunk %s is too large for a digest; comparing per-row sums", table, chunk.index)
            return None
        return int(rows), (str(digest) if digest is not None else None)

    def estimate_row_bytes(self, table: TableId) -> int:
        rows = self.query("SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                          "AND TABLE_NAME = %s", [table.database, table.name])
        return int(rows[0][0] or 0) if rows else 0

    def row_hash(self, texts: Sequence[str]) -> str:
        return f"CAST(CONV(SUBSTR(MD5(CONCAT_WS('|', {', '.join(texts)})), 1, 15), 16, 10) AS UNSIGNED)"

    def bucket_expr(self, column: ColumnSchema) -> str:
        return f"FLOOR(({self.quote(column.name)} - %s) / %s)"

    def read_expr(self, column: ColumnSchema) -> str:
        quoted = self.quote(column.name)
        if column.type.kind == Kind.FLOAT and column.type.bits == 32:
            return f"CAST({quoted} AS DOUBLE)"  # the text protocol prints FLOAT with 6 digits only
        return quoted

    def read_range(self, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return self._fix_floats(super().read_range(*args, **kwargs), args[1] if len(args) > 1 else kwargs["columns"])

    def read_ranges(self, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return self._fix_floats(super().read_ranges(*args, **kwargs), args[1] if len(args) > 1 else kwargs["columns"])

    def read_keys(self, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return self._fix_floats(super().read_keys(*args, **kwargs), args[1] if len(args) > 1 else kwargs["columns"])

    @staticmethod
    def _fix_floats(rows: list[tuple[Any, ...]], columns: Sequence[ColumnSchema]) -> list[tuple[Any, ...]]:
        return float32_rows(rows, [i for i, c in enumerate(columns) if c.type.kind == Kind.FLOAT and c.type.bits == 32])

    def estimate_rows(self, table: TableId) -> int:
        rows = self.query("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                          "AND TABLE_NAME = %s", [table.database, table.name])
        return int(rows[0][0] or 0) if rows else 0

    def load(self) -> int | None:
        rows = self.query("SHOW GLOBAL STATUS LIKE 'Threads_running'")
        return int(rows[0][1]) if rows else None

    def close(self) -> None:
        if self._conn is not None:
            try:
                if self._conn.open:
                    self._conn.close()
            except (pymysql.err.MySQLError, OSError) as exc:  # a dead connection is closed already
                log.debug("closing a compare connection: %s", exc)
            self._conn = None
