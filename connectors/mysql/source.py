"""The MySQL/MariaDB source: table schemas, chunked snapshots and the binlog change stream.

Options read from ConnectionConfig.options (besides those of connection.py):
    zero_date_policy      null (default) | epoch | string | fail  -- see types.py
    server_id             replica id for the binlog stream (required by changes(); unique per stream)
    heartbeat_interval    seconds of source idleness between heartbeat events (default 1)
    reconnect_timeout     seconds to keep reconnecting a lost binlog stream before failing (default 600)
    allow_no_primary_key  read a table without a usable key as one unbounded chunk
    driver                snapshot driver: auto (default: mysqlclient if installed) | mysqlclient | pymysql

Change events (see binlog_reader.py): row events carry full before/after tuples in the order of their
schema, which is the table's schema as of that event (from the binlog's TABLE_MAP, with the
information_schema description of the columns that still agree); their position is the last commit
before them. A DDL event carries the statement, the table and the schema information_schema shows
when the stream reaches the statement: if the stream is behind and the table changed again since,
that schema is already the later one (row events after it still carry their own). Resume from the
position of a COMMIT or HEARTBEAT event.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Generator, Iterator
from typing import Any

import pymysql

from connectors.base import Chunk, Source
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import ChangeEvent, Position
from connectors.mysql.binlog_reader import BinlogChangeStream
from connectors.mysql.connection import address, connect, error_message, is_connection_lost
from connectors.mysql.connector import MySQLConnector
from connectors.mysql.errors import MissingServerIdError
from connectors.mysql.position import BinlogPosition
from connectors.mysql.schema_history import SchemaHistory, read_table_schema
from connectors.mysql.snapshot import SnapshotReader
from connectors.mysql.types import zero_date_policy
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

CONTROL_QUERY_TIMEOUT = 60.0
# What the stream needs from the server, and how to fix each.
REQUIRED_VARIABLES = {
    "binlog_format": ("ROW", "SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)"),
    "binlog_row_image": ("FULL", "SET GLOBAL binlog_row_image = 'FULL' (and binlog_row_image=FULL in my.cnf)"),
    "binlog_row_metadata": ("FULL", "SET GLOBAL binlog_row_metadata = 'FULL' (and binlog_row_metadata=FULL in "
                                    "my.cnf); needs MySQL 8.0.14+ or MariaDB 10.5+"),
}


class MySQLSource(MySQLConnector, Source):
    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.policy = zero_date_policy(config.options)
        self._snapshot: SnapshotReader | None = None
        self._control: Any = None
        self._mariadb: bool | None = None
        self._streams: weakref.WeakSet[Generator[ChangeEvent, None, None]] = weakref.WeakSet()

    # -- control connection ------------------------------------------------------------------------

    def _conn(self) -> Any:
        if self._control is None:
            self._control = connect(self.config, query_timeout=CONTROL_QUERY_TIMEOUT)
        return self._control

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A metadata query; a dropped connection (server restart) is reopened once."""
        for attempt in (1, 2):
            try:
                with self._conn().cursor() as cur:
                    cur.execute(sql, args)
                    return list(cur.fetchall())
            except pymysql.err.MySQLError as exc:
                if attempt == 1 and is_connection_lost(exc):
                    self._drop_control()
                    continue
                raise
        raise AssertionError("unreachable")

    def _drop_control(self) -> None:
        if self._control is not None:
            try:
                self._control.close()
            except (pymysql.err.MySQLError, OSError) as exc:  # it was broken already
                log.debug("closing a broken control connection: %s", exc)
            self._control = None

    @property
    def is_mariadb(self) -> bool:
        if self._mariadb is None:
            (version,) = self._query("SELECT VERSION()")[0]
            self._mariadb = "mariadb" in str(version).lower()
        return self._mariadb

    def _load_schema(self, table: TableId) -> TableSchema | None:
        for attempt in (1, 2):
            try:
                return read_table_schema(self._conn(), table, self.policy, mariadb=self.is_mariadb)
            except pymysql.err.MySQLError as exc:
                message = error_message(exc, self.config.password)
                if is_connection_lost(exc):
                    self._drop_control()
                    if attempt == 1:
                        continue
                    raise ConnectionFailed(f"lost the connection to {address(self.config)} reading the schema of "
                                           f"{table}: {message}", hint="Check the server and the network.") from exc
                raise ConnectorError(f"reading the schema of {table} failed: {message}",
                                     hint=f"Make sure '{self.config.user}' may read information_schema.") from exc
        raise AssertionError("unreachable")

    # -- schema and snapshot -----------------------------------------------------------------------

    def table_schema(self, table: TableId) -> TableSchema:
        schema = self._load_schema(table)
        if schema is None:
            raise ConnectorError(f"table {table} does not exist on {address(self.config)}",
                                 hint="Check the table name, or refresh the datasource's catalog.")
        return schema

    @property
    def snapshot(self) -> SnapshotReader:
        if self._snapshot is None:
            self._snapshot = SnapshotReader(self.config, self.policy)
        return self._snapshot

    def snapshot_chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        return self.snapshot.chunks(schema, chunk_size)

    def read_chunk(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        return self.snapshot.read(schema, chunk)

    # -- change stream -----------------------------------------------------------------------------

    def current_position(self) -> BinlogPosition:
        try:
            rows = self._query("SHOW MASTER STATUS")
            if not rows:
                raise ConnectorError(f"binary logging is off on {address(self.config)}",
                                     hint="Enable it: log_bin=ON (log-bin=binlog in my.cnf), binlog_format=ROW, "
                                          "then restart the server.")
            file, pos = str(rows[0][0]), int(rows[0][1])
            variable = "@@GLOBAL.gtid_binlog_pos" if self.is_mariadb else "@@GLOBAL.gtid_executed"
            (gtid,) = self._query(f"SELECT {variable}")[0]
        except pymysql.err.MySQLError as exc:
            raise ConnectorError(f"reading the binlog position of {address(self.config)} failed: "
                                 f"{error_message(exc, self.config.password)}",
                                 hint=f"Grant BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL) to "
                                      f"'{self.config.user}'.") from exc
        return BinlogPosition(file, pos, " ".join(str(gtid or "").split()))

    def binary_logs(self) -> list[str]:
        """File names of the binary logs the server still has, oldest first."""
        return [str(row[0]) for row in self._query("SHOW BINARY LOGS")]

    def _check_binlog_settings(self) -> None:
        names = list(REQUIRED_VARIABLES) + (["log_bin_compress"] if self.is_mariadb else [])
        rows = self._query(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({', '.join(['%s'] * len(names))})",
                           tuple(names))
        values = {str(name).lower(): str(value).upper() for name, value in rows}
        for name, (wanted, fix) in REQUIRED_VARIABLES.items():
            if values.get(name) != wanted:
                raise ConnectorError(f"{name} is {values.get(name, 'not available')} on {address(self.config)}, "
                                     f"the change stream needs {wanted}", hint=fix + ", then restart the task.")
        if values.get("log_bin_compress") == "ON":
            raise ConnectorError("log_bin_compress is ON: compressed binlog events cannot be decoded",
                                 hint="SET GLOBAL log_bin_compress = OFF (and in my.cnf), then restart the task.")

    def changes(self, start: Position, tables: set[TableId]) -> Iterator[ChangeEvent]:
        if not isinstance(start, BinlogPosition):
            raise TypeError(f"a MySQL change stream starts from a BinlogPosition, not {type(start).__name__}")
        options = self.config.options
        raw_id = options.get("server_id")
        if raw_id in (None, ""):
            raise MissingServerIdError()
        try:
            server_id = int(raw_id)
        except (TypeError, ValueError):
            raise MissingServerIdError() from None
        if not 1 <= server_id <= 4294967295:
            raise MissingServerIdError()
        try:
            self._check_binlog_settings()
        except pymysql.err.MySQLError as exc:
            raise ConnectionFailed(f"cannot read the binlog settings of {address(self.config)}: "
                                   f"{error_message(exc, self.config.password)}",
                                   hint="Check the server and the datasource's credentials.") from exc
        history = SchemaHistory(self._load_schema, self.policy)
        for table in sorted(tables, key=str):
            history.reload(table)
        stream = iter(BinlogChangeStream(
            self.config, start, tables, server_id=server_id, policy=self.policy, history=history,
            binary_logs=self.binary_logs, heartbeat=float(options.get("heartbeat_interval", 1.0)),
            reconnect_timeout=float(options.get("reconnect_timeout", 600.0))))
        self._streams.add(stream)
        return stream

    def position_from_json(self, data: dict[str, Any]) -> BinlogPosition:
        return BinlogPosition.from_json(data)

    def close(self) -> None:
        for stream in list(self._streams):
            try:
                stream.close()  # runs the stream's cleanup: its replication connection closes
            except ValueError as exc:  # the stream is running in another thread: it closes when it stops
                log.warning("cannot close a change stream that is being read: %s", exc)
        self._streams.clear()
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
        self._drop_control()
