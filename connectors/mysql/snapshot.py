"""Snapshot reads: primary-key chunks without table locks, and streaming one chunk's rows.

The full-load hot path. Rows stream through an unbuffered cursor inside one REPEATABLE READ
consistent-snapshot transaction per chunk, with session time_zone '+00:00'. The driver does the
per-value work: mysqlclient (C, about 3x less client CPU per row than PyMySQL) when it is
installed, else PyMySQL. Date/time values arrive through converters that parse valid dates with
the C fast path and send zero dates to the task's policy, so a table without FLOAT columns (and
without 'fail' policy date columns) costs no per-row Python work at all.

Composite keys are compared as expanded OR chains, not row constructors: MariaDB does not use an
index range for (a, b) >= (x, y) and would scan the whole table per chunk.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pymysql

from connectors.base import Chunk, keyless_chunk
from connectors.chunking import dense_int_chunks, keyset_chunks, row_compare_sql
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.mysql.connection import (
    address,
    connect,
    error_message,
    is_connection_lost,
    open_connection,
    quote_ident,
)
from connectors.mysql.errors import ZeroDateError
from connectors.mysql.types import ZeroDate, bit_value, float32_rows, native_kind, text_converters
from connectors.types import Kind, TableSchema

try:  # mysqlclient: optional C driver, needs libmariadb-dev (or libmysqlclient-dev) and pkg-config to build
    import MySQLdb
    import MySQLdb.converters
    import MySQLdb.cursors
except ImportError:  # pragma: no cover - depends on the machine
    MySQLdb = None

log = logging.getLogger(__name__)

DRIVER_ERRORS: tuple[type[Exception], ...] = (pymysql.err.MySQLError,) + ((MySQLdb.Error,) if MySQLdb else ())
CLOSE_ERRORS: tuple[type[Exception], ...] = (*DRIVER_ERRORS, OSError)

FETCH_BATCH = 2000
DEFAULT_QUERY_TIMEOUT = 3600.0
# Field type codes of the client protocol (the same in PyMySQL and mysqlclient).
_TIMESTAMP, _DATE, _TIME, _DATETIME, _NEWDATE, _BIT, _JSON = 7, 10, 11, 12, 14, 16, 245
_ZERO_DATE_MODES = ("NO_ZERO_DATE", "NO_ZERO_IN_DATE")


def json_text(value: str | bytes) -> str:
    """MySQL's JSON type may arrive as bytes (binary charset) from mysqlclient: JSON is always UTF-8 text."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def drivers_available() -> list[str]:
    return (["mysqlclient"] if MySQLdb is not None else []) + ["pymysql"]


def _choose_driver(options: dict[str, Any]) -> str:
    wanted = str(options.get("driver") or "auto")
    if wanted == "auto":
        return "mysqlclient" if MySQLdb is not None else "pymysql"
    if wanted == "mysqlclient" and MySQLdb is None:
        raise ConnectorError("the mysqlclient driver is not installed",
                             hint="pip install mysqlclient (needs libmariadb-dev and pkg-config), or set the "
                                  "option \"driver\" to \"pymysql\".")
    if wanted not in ("mysqlclient", "pymysql"):
        raise ConnectorError(f"unknown MySQL driver {wanted!r}", hint="use \"mysqlclient\" or \"pymysql\"")
    return wanted


def where_compare(columns: Sequence[str], op: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """(c1, c2, ...) op (v1, v2, ...) for op '>=', '>' or '<', as an OR chain an index range can use."""
    return row_compare_sql(columns, op, values, quote_ident)


def chunk_where(key: Sequence[str], chunk: Chunk) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if chunk.low is not None:
        sql, args = where_compare(key, ">=", chunk.low)
        conditions.append(sql)
        params += args
    if chunk.high is not None:
        sql, args = where_compare(key, "<", chunk.high)
        conditions.append(sql)
        params += args
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def table_sql(schema: TableSchema) -> str:
    return f"{quote_ident(schema.table.database)}.{quote_ident(schema.table.name)}"


class SnapshotReader:
    """Chunks and chunk reads for one datasource; connections are opened lazily and reused."""

    def __init__(self, config: ConnectionConfig, policy: str) -> None:
        self.config = config
        self.policy = policy
        self.driver = _choose_driver(config.options)
        self.query_timeout = float(config.options.get("snapshot_query_timeout", DEFAULT_QUERY_TIMEOUT))
        self._control: Any = None
        self._idle: list[Any] = []
        converters = text_converters(policy)
        self._converters: dict[int, Callable[[Any], Any]] = {
            _DATE: converters[Kind.DATE], _NEWDATE: converters[Kind.DATE], _DATETIME: converters[Kind.DATETIME],
            _TIMESTAMP: converters[Kind.TIMESTAMP], _TIME: converters[Kind.TIME], _BIT: bit_value,
            _JSON: json_text}

    # -- connections -------------------------------------------------------------------------------

    def control(self) -> Any:
        """A PyMySQL connection for metadata and chunk boundaries."""
        if self._control is None:
            conn = connect(self.config, query_timeout=self.query_timeout)
            self._session_setup(conn)  # boundary values must read and compare as the reader's do
            self._control = conn
        return self._control

    def _session_setup(self, conn: Any) -> None:
        cur = conn.cursor()
        try:
            cur.execute("SELECT @@SESSION.sql_mode")
            (mode,) = cur.fetchone()
            mode_text = mode.decode() if isinstance(mode, bytes) else str(mode)
            # Zero dates must be readable and comparable (chunk bounds), whatever the server's default.
            kept = ",".join(m for m in mode_text.split(",") if m and m not in _ZERO_DATE_MODES)
            cur.execute("SET SESSION sql_mode = %s, time_zone = '+00:00', net_write_timeout = %s",
                        (kept, int(self.query_timeout)))
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        finally:
            cur.close()

    def _open_reader(self) -> Any:
        config = self.config
        if self.driver == "mysqlclient":
            conv = dict(MySQLdb.converters.conversions)
            conv.update(self._converters)
            kwargs: dict[str, Any] = {
                "host": config.host, "port": config.port, "user": config.user, "password": config.password,
                "charset": str(config.options.get("charset", "utf8mb4")), "conv": conv, "autocommit": True,
                "connect_timeout": max(1, math.ceil(config.connect_timeout)),
                "read_timeout": max(1, math.ceil(self.query_timeout))}
            if config.options.get("ssl_ca"):
                kwargs["ssl"] = {"ca": str(config.options["ssl_ca"])}
            elif config.options.get("ssl"):
                kwargs["ssl_mode"] = "REQUIRED"
            try:
                conn = MySQLdb.connect(**kwargs)
            except MySQLdb.Error as exc:
                raise ConnectionFailed(
                    f"cannot open a snapshot connection to {address(config)}: {error_message(exc, config.password)}",
                    hint="Check that the server is up and the datasource's credentials still work.") from exc
        else:
            conn = open_connection(config, query_timeout=self.query_timeout)
            decoders = dict(pymysql.converters.decoders)
            decoders.update(self._converters)
            conn.decoders = decoders  # PyMySQL looks decoders up per result set
        self._session_setup(conn)
        return conn

    def _reader(self) -> Any:
        while self._idle:
            conn = self._idle.pop()
            try:
                conn.ping()  # an idle connection may have died (server restart, wait_timeout)
                return conn
            except CLOSE_ERRORS as exc:
                log.info("dropping a dead snapshot connection: %s", exc)
                self._close_quietly(conn)
        return self._open_reader()

    @staticmethod
    def _close_quietly(conn: Any) -> None:
        try:
            conn.close()
        except CLOSE_ERRORS as exc:  # a dead socket is fine: we are letting it go
            log.debug("closing a snapshot connection: %s", exc)

    def close(self) -> None:
        for conn in [*self._idle, self._control]:
            if conn is not None:
                self._close_quietly(conn)
        self._idle = []
        self._control = None

    # -- chunks ------------------------------------------------------------------------------------

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A chunking query; a connection lost since the last one (server restart) is reopened once."""
        for attempt in (1, 2):
            try:
                with self.control().cursor() as cur:
                    cur.execute(sql, list(args))
                    return list(cur.fetchall())
            except pymysql.err.MySQLError as exc:
                if attempt == 1 and is_connection_lost(exc):
                    self._close_quietly(self._control)
                    self._control = None
                    continue
                raise ConnectorError(f"finding chunk boundaries on {address(self.config)} failed: "
                                     f"{error_message(exc, self.config.password)}",
                                     hint="Check the server; chunking can be started again.") from exc
        raise AssertionError("unreachable")

    def chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        table = schema.table
        key = schema.key_columns
        if not key:
            yield keyless_chunk(schema, self.config.options, table_sql(schema))
            return
        name = table_sql(schema)
        if len(key) == 1 and native_kind(schema.column(key[0])).kind in (Kind.INT, Kind.YEAR):
            dense = self._dense_int_chunks(schema, key[0], chunk_size)
            if dense is not None:
                yield from dense
                return
        order = ", ".join(quote_ident(c) for c in key)
        select = f"SELECT {order} FROM {name}"  # noqa: S608 - names quoted by quote_ident, values are parameters

        def next_bound(low: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
            if low is None:
                rows = self._query(f"{select} ORDER BY {order} LIMIT 1 OFFSET %s", [chunk_size])
            else:
                where, args = where_compare(key, ">=", low)
                rows = self._query(f"{select} WHERE {where} ORDER BY {order} LIMIT 1 OFFSET %s", [*args, chunk_size])
            return tuple(rows[0]) if rows else None

        yield from keyset_chunks(table, next_bound)

    def _dense_int_chunks(self, schema: TableSchema, column: str, chunk_size: int) -> list[Chunk] | None:
        """Chunks by min/max arithmetic when the keys are dense enough; None to fall back to keyset paging."""
        table = schema.table
        quoted = quote_ident(column)
        sql = f"SELECT MIN({quoted}), MAX({quoted}) FROM {table_sql(schema)}"  # noqa: S608 - quoted names
        ((low, high),) = self._query(sql)

        def estimate() -> int:
            rows = self._query("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                               "AND TABLE_NAME = %s", [table.database, table.name])
            return int(rows[0][0] or 0) if rows else 0

        return dense_int_chunks(table, low, high, estimate, chunk_size)

    # -- reading -----------------------------------------------------------------------------------

    def select_sql(self, schema: TableSchema, chunk: Chunk) -> tuple[str, list[Any]]:
        exprs = []
        for column in schema.columns:
            quoted = quote_ident(column.name)
            if column.type.kind == Kind.FLOAT and column.type.bits == 32:
                # The text protocol prints FLOAT with 6 digits; the double cast carries the exact binary32.
                exprs.append(f"CAST({quoted} AS DOUBLE)")
            else:
                exprs.append(quoted)
        where, params = chunk_where(schema.key_columns, chunk) if chunk.low is not None or chunk.high is not None \
            else ("", [])
        sql = f"SELECT {', '.join(exprs)} FROM {table_sql(schema)}{where}"  # noqa: S608 - quoted names, parameters
        return sql, params

    def _row_fixer(self, schema: TableSchema) -> Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None:
        """Per-row work the driver cannot do, or None when there is none for this table."""
        floats = [i for i, c in enumerate(schema.columns) if c.type.kind == Kind.FLOAT and c.type.bits == 32]
        zero_checks = [i for i, c in enumerate(schema.columns)
                       if self.policy == "fail" and c.type.kind in (Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP)]
        if not floats and not zero_checks:
            return None
        key_indexes = schema.key_indexes()

        def fix(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            if zero_checks:
                for row in rows:
                    for i in zero_checks:
                        if isinstance(row[i], ZeroDate):
                            raise ZeroDateError(schema.table, schema.columns[i].name,
                                                tuple(row[k] for k in key_indexes) or None, str(row[i]))
            return float32_rows(rows, floats)
        return fix

    def read(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        sql, params = self.select_sql(schema, chunk)
        fix = self._row_fixer(schema)
        conn = self._reader()
        finished = False
        try:
            plain = conn.cursor()
            plain.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            plain.close()
            if self.driver == "mysqlclient":
                cur = conn.cursor(MySQLdb.cursors.SSCursor)
            else:
                cur = conn.cursor(pymysql.cursors.SSCursor)
            cur.execute(sql, params)
            fetchmany = cur.fetchmany
            while True:
                rows = fetchmany(FETCH_BATCH)
                if not rows:
                    break
                if fix is not None:
                    yield from fix(list(rows))
                else:
                    yield from rows
            cur.close()
            conn.commit()
            finished = True
        except DRIVER_ERRORS as exc:
            raise ConnectorError(f"reading {schema.table} chunk {chunk.index} from {address(self.config)} failed: "
                                 f"{error_message(exc, self.config.password)}",
                                 hint="Check the server; the chunk can be read again.") from exc
        finally:
            if finished:
                self._idle.append(conn)
            else:
                # Abandoned or failed mid-stream: draining an unbuffered result could take long; drop it.
                # PyMySQL would still try to drain it when the result is garbage-collected: tell it not to.
                result = getattr(conn, "_result", None)
                if result is not None and hasattr(result, "unbuffered_active"):
                    result.unbuffered_active = False
                self._close_quietly(conn)
