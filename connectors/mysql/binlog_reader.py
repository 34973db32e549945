"""The MySQL/MariaDB change stream: binlog events to ChangeEvents, resumable and reconnecting.

How it reads. pymysqlreplication's BinLogStreamReader speaks the replication protocol, frames the
events and parses TABLE_MAPs; it runs with freeze_schema=True so a table id's TABLE_MAP is parsed
once instead of per transaction (the library's most expensive step with single-row transactions),
and binlog_rows decodes the row bytes itself. Cached table maps are dropped whenever table ids may
have been reassigned: at each new binlog file (a real ROTATE, or a FORMAT_DESCRIPTION read from a
file's start, as after a server restart) and after a DDL statement on the table.

How it resumes. By binlog file and offset, with is_mariadb=False and resume_stream=True, on MySQL and
MariaDB alike:
  - a position is exact and cheap to seek to; MariaDB's GTID start (auto_position) makes the server
    scan the binlog file from its beginning on every connect;
  - the library reconnects by itself after a dropped read (errors 2006/2013) from the last event's
    offset: exact in file+pos mode, but in MariaDB GTID mode it re-sends the original GTID and would
    replay everything since the start of the stream;
  - positions then order naturally by (file number, offset).
The GTID state is tracked and stored in each position for information and failover tooling.

Commit positions. A COMMIT event follows each transaction that produced row or DDL events (at its
XID, or COMMIT query for non-transactional tables, or after a DDL statement) with the position after
it. Transactions on other tables still advance the internal position, and a COMMIT carrying it is
yielded at most once a second so a checkpoint keeps up on a busy server. Row events carry the
position of the commit before them: resuming there reproduces them.

Reconnecting. When the connection fails or the server restarts, the stream reconnects with
exponential backoff (capped at 30 s) from the last transaction boundary it passed and skips the
events of the current transaction it had already yielded, so nothing is duplicated or lost. A
start position whose file is gone, or that the server refuses with error 1236, raises
BinlogPurgedError: only a new snapshot can recover.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    FormatDescriptionEvent,
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    NotImplementedEvent,
    QueryEvent,
    RotateEvent,
    XAPrepareEvent,
    XidEvent,
)
from pymysqlreplication.gtid import Gtid, GtidSet
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    PartialUpdateRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import COMMIT, DDL, DELETE, HEARTBEAT, INSERT, UPDATE, ChangeEvent
from connectors.mysql.binlog_rows import RowDecoder, columns_from_table_map
from connectors.mysql.connection import address, error_code, error_message
from connectors.mysql.ddl_parser import DROP_DATABASE, parse_ddl
from connectors.mysql.errors import BinlogPurgedError
from connectors.mysql.position import BinlogPosition
from connectors.mysql.schema_history import SchemaHistory
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

# Client and server codes after which reconnecting may help (server gone, restarting, killed).
RETRYABLE_CODES = frozenset({2003, 2006, 2013, 2055, 1053, 1927, 1317, 1152, 1158, 1159, 1160, 1161})
NOT_TRANSACTION_END = ("SAVEPOINT", "ROLLBACK TO", "RELEASE SAVEPOINT", "XA ")
MARIADB_COMPRESSED_EVENTS = frozenset(range(165, 172))
MARIADB_FL_STANDALONE = 1
COMMIT_EVERY = 1.0  # seconds between COMMITs for transactions on other tables
MAX_BACKOFF = 30.0


class StreamEnded(Exception):
    """The server closed the replication stream (shutdown): reconnect."""


@dataclass
class _Mapped:
    """A table id's TABLE_MAP, as the library cached it, and our decoder (None: not a selected table)."""

    table_obj: Any
    decoder: RowDecoder | None


class BinlogChangeStream:
    """One changes() call: an iterator of ChangeEvents from start, for tables."""

    def __init__(self, config: ConnectionConfig, start: BinlogPosition, tables: set[TableId], *, server_id: int,
                 policy: str, history: SchemaHistory, binary_logs: Callable[[], list[str]],
                 heartbeat: float = 1.0, reconnect_timeout: float = 600.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.tables = set(tables)
        self.databases = {t.database for t in tables}
        self.server_id = server_id
        self.policy = policy
        self.history = history
        self.binary_logs = binary_logs
        self.heartbeat = heartbeat
        self.reconnect_timeout = reconnect_timeout
        self.sleep = sleep
        self.start = start
        # Stream state: the last transaction boundary passed, and the transaction in progress.
        self.file = start.file
        self.last_commit = start
        self.in_txn = False
        self.emitted = 0  # row/DDL events of the current transaction already yielded
        self.skip = 0  # of those, how many a replay after reconnecting must not yield again
        self.txn_emitted_any = False
        self.last_commit_yield = time.monotonic()
        self.mariadb_gtids: dict[int, str] = {}
        self.mysql_gtids: GtidSet | None = None
        self.gtid_text = start.gtid
        self._parse_gtid(start.gtid)
        self._maps: dict[int, _Mapped] = {}
        self._decoders: dict[tuple[Any, ...], RowDecoder] = {}
        self.reader: BinLogStreamReader | None = None

    # -- GTID state --------------------------------------------------------------------------------

    def _parse_gtid(self, text: str) -> None:
        if not text:
            return
        if ":" in text:  # MySQL: uuid:1-5,uuid2:1-3
            self.mysql_gtids = GtidSet(text)
            return
        for part in text.split(","):
            part = part.strip()
            if part:
                self.mariadb_gtids[int(part.split("-", 1)[0])] = part

    def _mariadb_gtid(self, event: Any) -> None:
        self.mariadb_gtids[event.domain_id] = event.gtid
        gtids = self.mariadb_gtids
        self.gtid_text = event.gtid if len(gtids) == 1 else ",".join(gtids[d] for d in sorted(gtids))

    def _mysql_gtid(self, event: Any) -> None:
        gtid = Gtid(event.gtid)
        self.mysql_gtids = GtidSet([gtid]) if self.mysql_gtids is None else self.mysql_gtids + gtid
        self.gtid_text = str(self.mysql_gtids)

    # -- connection --------------------------------------------------------------------------------

    def _connection_settings(self) -> dict[str, Any]:
        config = self.config
        settings: dict[str, Any] = {
            "host": config.host, "port": config.port, "user": config.user, "passwd": config.password,
            "charset": "utf8mb4", "connect_timeout": config.connect_timeout,
            # No packet (not even a heartbeat) for this long means the server or network is gone.
            "read_timeout": max(10.0, 5 * self.heartbeat)}
        if config.options.get("ssl_ca"):
            settings["ssl"] = {"ca": str(config.options["ssl_ca"])}
        elif config.options.get("ssl"):
            settings["ssl"] = {"check_hostname": False}
        return settings

    def _open(self) -> BinLogStreamReader:
        position = self.last_commit
        logs = self.binary_logs()
        if position.file not in logs:
            raise BinlogPurgedError(str(position), f"the server's binary logs are {_describe_logs(logs)}")
        self.file = position.file
        self._maps.clear()
        return BinLogStreamReader(
            connection_settings=self._connection_settings(), server_id=self.server_id, blocking=True,
            resume_stream=True, log_file=position.file, log_pos=position.pos, is_mariadb=False,
            freeze_schema=True, slave_heartbeat=self.heartbeat,
            only_schemas=sorted(self.databases), only_tables=sorted({t.name for t in self.tables}),
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, PartialUpdateRowsEvent, XidEvent,
                         QueryEvent, MariadbGtidEvent, GtidEvent, TableMapEvent, RotateEvent,
                         FormatDescriptionEvent, HeartbeatLogEvent, XAPrepareEvent, NotImplementedEvent],
            filter_non_implemented_events=False, enable_logging=False)

    def _forget_maps(self) -> None:
        """Table ids may be reused from here on (new binlog file, server restart): parse TABLE_MAPs again."""
        self._maps.clear()
        if self.reader is not None:
            self.reader.table_map.clear()

    def _forget_table(self, table: TableId) -> None:
        for table_id in [tid for tid, m in self._maps.items()
                         if (m.table_obj.schema, m.table_obj.table) == (table.database, table.name)]:
            del self._maps[table_id]
            if self.reader is not None:
                self.reader.table_map.pop(table_id, None)

    # -- the iterator ------------------------------------------------------------------------------

    def __iter__(self) -> Generator[ChangeEvent, None, None]:
        delay = 0.5
        failing_since: float | None = None
        while True:
            try:
                self.reader = self._open()
                try:
                    for event in self._events(self.reader):
                        failing_since = None
                        delay = 0.5
                        yield event
                finally:
                    self.reader.close()
                    self.reader = None
                raise StreamEnded("the server closed the replication stream")
            except (pymysql.err.MySQLError, OSError, StreamEnded, ConnectionFailed) as exc:
                # ConnectionFailed: the control connection could not be reopened (server still down).
                code = error_code(exc)
                if code == 1236:
                    raise self._fatal_read_error(exc) from exc
                if isinstance(exc, pymysql.err.MySQLError) and code not in RETRYABLE_CODES:
                    raise ConnectorError(
                        f"reading the binlog of {address(self.config)} failed: "
                        f"{error_message(exc, self.config.password)}",
                        hint="Check the replication grants (REPLICATION SLAVE, BINLOG MONITOR / REPLICATION "
                             "CLIENT) and the server log.") from exc
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                elif now - failing_since > self.reconnect_timeout:
                    raise ConnectionFailed(
                        f"lost the binlog stream of {address(self.config)} and could not reconnect for "
                        f"{self.reconnect_timeout:.0f}s: {error_message(exc, self.config.password)}",
                        hint="Check that the server is up and reachable; the task resumes from its checkpoint "
                             "when restarted.") from exc
                log.warning("binlog stream of %s interrupted (%s); reconnecting from %s in %.1fs",
                            address(self.config), error_message(exc, self.config.password), self.last_commit, delay)
                self.skip = self.emitted
                self.in_txn = False
                self.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _fatal_read_error(self, exc: BaseException) -> BinlogPurgedError:
        """Error 1236: the server cannot send the binlog from our position (purged, truncated, bad offset)."""
        message = error_message(exc, self.config.password)
        try:
            logs = self.binary_logs()
        except (pymysql.err.MySQLError, ConnectorError, OSError) as lookup:
            log.info("could not list the binary logs after error 1236: %s", lookup)
            logs = []
        purged = self.last_commit.file not in logs or "purged" in message.lower()
        return BinlogPurgedError(str(self.last_commit), message, purged=purged)

    def _commit(self, position: BinlogPosition, timestamp: float) -> ChangeEvent | None:
        """Close the transaction; the COMMIT event to yield, if any."""
        self.last_commit = position
        self.in_txn = False
        emitted = self.txn_emitted_any
        self.emitted = 0
        self.skip = 0
        self.txn_emitted_any = False
        now = time.monotonic()
        if emitted or now - self.last_commit_yield >= COMMIT_EVERY:
            self.last_commit_yield = now
            return ChangeEvent(COMMIT, None, None, None, None, float(timestamp), position)
        return None

    def _events(self, reader: BinLogStreamReader) -> Iterator[ChangeEvent]:
        maps = self._maps
        tables = self.tables
        write_cls, update_cls, delete_cls = WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent
        for ev in reader:
            cls = type(ev)
            if cls is write_cls or cls is update_cls or cls is delete_cls:
                mapped = maps.get(ev.table_id)
                if mapped is None or mapped.table_obj is not reader.table_map.get(ev.table_id):
                    raise ConnectorError(f"internal: row event for table id {ev.table_id} "
                                         f"({ev.schema}.{ev.table}) without its TABLE_MAP")
                decoder = mapped.decoder
                if decoder is None:
                    continue
                packet = ev.packet
                body = packet.read(ev.event_size - packet.read_bytes)
                if ev.number_of_columns != decoder.count or ev.columns_present_bitmap != decoder.full_bitmap \
                        or (cls is update_cls and ev.columns_present_bitmap2 != decoder.full_bitmap):
                    raise ConnectorError(
                        f"the binlog row event for {decoder.table} does not carry full row images",
                        hint="Set binlog_row_image=FULL on the server and restart the task from a new snapshot.")
                table = decoder.table
                schema = decoder.schema
                position = self.last_commit
                timestamp = float(ev.timestamp)
                for row in decoder.images(body, cls is update_cls):
                    if self.skip:
                        self.skip -= 1
                        continue
                    if cls is write_cls:
                        event = ChangeEvent(INSERT, table, schema, None, row, timestamp, position)
                    elif cls is update_cls:
                        event = ChangeEvent(UPDATE, table, schema, row[0], row[1], timestamp, position)
                    else:
                        event = ChangeEvent(DELETE, table, schema, row, None, timestamp, position)
                    self.emitted += 1
                    self.txn_emitted_any = True
                    yield event
            elif cls is XidEvent:
                commit = self._commit(BinlogPosition(self.file, ev.packet.log_pos, self.gtid_text), ev.timestamp)
                if commit is not None:
                    yield commit
            elif cls is MariadbGtidEvent:
                self._mariadb_gtid(ev)
                self.in_txn = not ev.flags & MARIADB_FL_STANDALONE
            elif cls is TableMapEvent:
                table = TableId(ev.schema, ev.table)
                maps[ev.table_id] = _Mapped(ev.get_table(), self._decoder(table, ev) if table in tables else None)
            elif cls is QueryEvent:
                yield from self._query(ev)
            elif cls is HeartbeatLogEvent:
                if not self.in_txn:
                    # Sent only when the dump is idle at the binlog's end: a transaction boundary.
                    position = BinlogPosition(ev.ident or self.file, ev.packet.log_pos, self.gtid_text)
                    if self.last_commit < position:
                        self.last_commit = position
                    else:
                        position = self.last_commit
                    yield ChangeEvent(HEARTBEAT, None, None, None, None, time.time(), position)
            elif cls is GtidEvent:
                self._mysql_gtid(ev)
            elif cls is RotateEvent:
                self.file = ev.next_binlog
                if ev.timestamp:  # a real rotate, not the one the server sends when a dump starts
                    self._forget_maps()
            elif cls is FormatDescriptionEvent:
                if ev.packet.log_pos:  # read from the start of a file, not re-sent for a mid-file start
                    self._forget_maps()
            elif cls is PartialUpdateRowsEvent:
                raise ConnectorError("the binlog holds partial JSON updates, which carry no full after-image",
                                     hint="Set binlog_row_value_options='' on the server and restart the task "
                                          "from a new snapshot.")
            elif cls is XAPrepareEvent:
                raise ConnectorError("the binlog holds an XA transaction, which this source does not support",
                                     hint="Avoid XA transactions on the replicated tables.")
            elif cls is NotImplementedEvent and ev.event_type in MARIADB_COMPRESSED_EVENTS:
                raise ConnectorError("the binlog holds compressed events, which cannot be decoded",
                                     hint="SET GLOBAL log_bin_compress = OFF (and in my.cnf), then restart the "
                                          "task from a new snapshot.")

    def _decoder(self, table: TableId, event: Any) -> RowDecoder:
        columns, primary_key = columns_from_table_map(event)
        schema = self.history.for_table_map(table, columns, primary_key)
        cache_key = (table, tuple(columns), schema.version)
        decoder = self._decoders.get(cache_key)
        if decoder is None:
            decoder = self._decoders[cache_key] = RowDecoder(table, columns, schema, self.policy)
        return decoder

    def _query(self, ev: Any) -> Iterator[ChangeEvent]:
        query: str = ev.query
        head = query.lstrip()[:20].upper()
        if head.startswith("BEGIN") or head.startswith("XA START"):
            self.in_txn = True
            return
        position = BinlogPosition(self.file, ev.packet.log_pos, self.gtid_text)
        if head.startswith("COMMIT") or (head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO")):
            commit = self._commit(position, ev.timestamp)
            if commit is not None:
                yield commit
            return
        if head.startswith(NOT_TRANSACTION_END):
            return
        default_db = ev.schema.decode("utf-8", errors="replace") if isinstance(ev.schema, bytes) else str(ev.schema)
        statement = parse_ddl(query, default_db)
        if statement is not None:
            affected: list[TableId] = []
            if statement.kind == DROP_DATABASE:
                if statement.database in self.databases:
                    affected = sorted({t for t in self.tables if t.database == statement.database},
                                      key=str)
            else:
                affected = [t for t in statement.tables if t.database in self.databases]
            for table in dict.fromkeys(affected):
                schema: TableSchema | None = self.history.reload(table)
                self._forget_table(table)
                if self.skip:
                    self.skip -= 1
                    continue
                self.emitted += 1
                self.txn_emitted_any = True
                yield ChangeEvent(DDL, table, schema, None, None, float(ev.timestamp), position, ddl=query)
        if not self.in_txn:  # a statement of its own (DDL, or anything else logged as a statement)
            commit = self._commit(position, ev.timestamp)
            if commit is not None:
                yield commit


def _describe_logs(logs: list[str]) -> str:
    if not logs:
        return "none (is log_bin enabled?)"
    return f"{logs[0]} .. {logs[-1]}" if len(logs) > 1 else logs[0]
