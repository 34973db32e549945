"""The PostgreSQL change stream: pgoutput over the streaming replication protocol, as ChangeEvents.

Why psycopg.pq. psycopg 3 has no replication API; psycopg2's LogicalReplicationConnection would
add a second driver for one loop. libpq does the protocol work (a ``replication=database``
connection, START_REPLICATION, CopyBoth framing) and psycopg.pq is its thin, public wrapper, so
this module only frames the three CopyBoth message kinds and decodes pgoutput (pgoutput.py).
SQL-function polling (pg_logical_slot_get_binary_changes) was rejected: it re-decodes from the
slot on every call and has no keepalive to release WAL while the task's tables are idle.

The loop. The socket is polled with select() at most heartbeat seconds at a time, so an idle
stream still yields HEARTBEAT events (and a consumer's stop flag is seen). Every heartbeat a
Standby Status Update reports: write = the last WAL position received, flush = apply = the last
position the task confirmed (Source.confirm, called once the target committed it; at start, the
start position, which is a checkpoint). The server frees WAL and advances the slot only up to
flush, so a crash replays from the checkpoint and loses nothing. The update asks for a reply; the
server's keepalive carries its decoding position, which becomes the HEARTBEAT's position when no
transaction is open (every transaction not yet sent commits after it).

Positions. A COMMIT event carries the transaction's end LSN; row and DDL events carry the end
LSN of the transaction before them. Resuming from either replays nothing the target has not
already been given (START_REPLICATION skips transactions that commit before the start).

Schema drift. Logical decoding carries no DDL, but the server sends a Relation message before a
table's first change after its definition changed. A Relation whose columns differ from the
known schema becomes a DDL event (``ALTER TABLE ... ADD/DROP COLUMN``, ``ALTER COLUMN ... TYPE``)
with the new schema, which the pipeline's ddl_policy handles. TRUNCATE becomes a DDL event too.
"""

from __future__ import annotations

import logging
import re
import select
import struct
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.conninfo import make_conninfo
from psycopg.pq.abc import PGconn

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import COMMIT, DDL, DELETE, HEARTBEAT, INSERT, UPDATE, ChangeEvent
from connectors.postgresql import pgoutput
from connectors.postgresql.connection import address, redact
from connectors.postgresql.position import Lsn, format_lsn
from connectors.postgresql.source_schema import CatalogTable, SchemaReader
from connectors.postgresql.source_types import SESSION_OPTIONS, Load, text_loader
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9_]{1,63}$")
# Microseconds between the Unix epoch and 2000-01-01, PostgreSQL's epoch for protocol timestamps.
PG_EPOCH = 946_684_800
_XLOG_HEADER = struct.Struct(">QQq")
_KEEPALIVE = struct.Struct(">QqB")
_STATUS = struct.Struct(">cQQQqB")
MAX_BACKOFF = 30.0


def check_name(name: str, option: str) -> str:
    """Slot and publication names go into replication commands: lower-case letters, digits, '_' only."""
    if not NAME.match(name):
        raise ConnectorError(f"{option} {name!r} is not a valid replication slot or publication name",
                             hint=f"Use 1 to 63 lower-case letters, digits and underscores for the option {option}.")
    return name


def replication_conninfo(config: ConnectionConfig) -> str:
    params: dict[str, Any] = {
        "host": config.host, "port": config.port, "user": config.user, "password": config.password,
        "dbname": config.database or "postgres", "replication": "database", "application_name": "dts",
        "connect_timeout": max(2, int(config.connect_timeout + 0.999)), "options": SESSION_OPTIONS}
    if config.options.get("sslmode"):
        params["sslmode"] = str(config.options["sslmode"])
    elif config.options.get("ssl"):
        params["sslmode"] = "require"
    if config.options.get("sslrootcert"):
        params["sslrootcert"] = str(config.options["sslrootcert"])
    return make_conninfo(**params)


@dataclass
class _Relation:
    """A task table as the stream currently describes it."""

    table: TableId
    schema: TableSchema
    loaders: list[Load]


class StreamGone(Exception):
    """The server ended the replication stream (shutdown, terminated walsender): reconnect."""


class StreamFailed(ConnectorError):
    """The server ended the replication stream with an error reconnecting cannot fix."""


# SQLSTATEs after which reconnecting may help: connection errors, shutdown, a terminated walsender.
RETRYABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


class ChangeStream:
    """One changes() call: ChangeEvents from start for tables, over one replication connection."""

    def __init__(self, config: ConnectionConfig, *, slot: str, publication: str, start: Lsn, tables: set[TableId],
                 open_reader: Callable[[], SchemaReader], schemas: dict[TableId, TableSchema],
                 confirmed: Callable[[], int], heartbeat: float = 1.0, reconnect_timeout: float = 600.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.slot = slot
        self.publication = publication
        self.start = start
        self.tables = set(tables)
        self.open_reader = open_reader
        self.reader: SchemaReader | None = None
        self.reconnect_timeout = reconnect_timeout
        self.sleep = sleep
        self.known = dict(schemas)  # the last schema yielded per table
        self.confirmed = confirmed
        self.heartbeat = max(0.05, heartbeat)
        self.relations: dict[int, _Relation | None] = {}  # None: a relation outside the task
        self.received = start.value
        self.resume = start  # the last position yielded on a COMMIT or HEARTBEAT: where a reconnect starts
        self.emitted = 0  # row and TRUNCATE events of the open transaction already yielded
        self.skip = 0  # of those, how many the replay after a reconnect must not yield again
        self.last_commit = start
        self.server_position = start.value
        self.in_transaction = False
        self.commit_time = 0.0
        self.conn: PGconn | None = None

    # -- connection --------------------------------------------------------------------------------

    def _message(self, conn: PGconn) -> str:
        text = conn.get_error_message() or ""
        return redact(" ".join(text.split()), self.config.password)

    def _ended(self, conn: PGconn) -> Exception:
        """Why the server ended the CopyBoth stream, as StreamGone (reconnect) or StreamFailed (do not)."""
        conn.nonblocking = 0
        result = conn.get_result()
        reason, state = "", ""
        if result is not None and result.error_message:
            reason = result.error_message.decode("utf-8", "replace")
            state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        reason = redact(" ".join((reason or self._message(conn) or "the server ended the stream").split()),
                        self.config.password)
        if not state or state.startswith(RETRYABLE_STATES):
            return StreamGone(reason)
        return StreamFailed(f"the replication stream from {address(self.config)} failed: {reason}",
                            hint="Fix the cause in the server's message, then resume the task from its checkpoint.")

    def _open(self) -> PGconn:
        conn: PGconn = pq.PGconn.connect(replication_conninfo(self.config).encode())
        if conn.status != pq.ConnStatus.OK:
            message = self._message(conn)
            conn.finish()
            raise ConnectionFailed(f"cannot open a replication connection to {address(self.config)}: {message}",
                                   hint="The user needs the REPLICATION attribute (ALTER ROLE ... WITH REPLICATION) "
                                        "and pg_hba.conf must allow it; check max_wal_senders.")
        command = (f"START_REPLICATION SLOT {self.slot} LOGICAL {format_lsn(self.resume.value)} "
                   f"(proto_version '1', publication_names '{self.publication}')")  # names checked by check_name
        result = conn.exec_(command.encode())
        if result.status != pq.ExecStatus.COPY_BOTH:
            message = redact(" ".join((result.error_message or b"").decode("utf-8", "replace").split()),
                             self.config.password)
            state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
            conn.finish()
            if state == "55006":  # the slot is still held by a walsender that is going away: try again
                raise StreamGone(message)
            raise ConnectorError(f"START_REPLICATION on slot {self.slot} failed: {message}",
                                 hint="Check that the slot and the publication exist (they are created when the "
                                      "task starts) and that no other process streams from the slot.")
        conn.nonblocking = 1
        return conn

    def _send_status(self, conn: PGconn, reply: bool) -> None:
        flush = max(self.confirmed(), self.start.value)  # start was a checkpoint: the target has it
        now = int((time.time() - PG_EPOCH) * 1_000_000)
        conn.put_copy_data(_STATUS.pack(b"r", self.received, flush, flush, now, 1 if reply else 0))
        conn.flush()

    # -- the iterator ------------------------------------------------------------------------------

    def __iter__(self) -> Generator[ChangeEvent, None, None]:
        delay = 0.5
        failing_since: float | None = None
        try:
            while True:
                try:
                    self.reader = self.open_reader()
                    self.conn = self._open()
                    for event in self._stream(self.conn):
                        failing_since, delay = None, 0.5
                        yield event
                except (StreamGone, ConnectionFailed, psycopg.OperationalError, OSError) as exc:
                    now = time.monotonic()
                    failing_since = failing_since or now
                    if now - failing_since >= self.reconnect_timeout:
                        raise ConnectionFailed(
                            f"the replication stream from {address(self.config)} failed and did not come back "
                            f"within {self.reconnect_timeout:g}s: {self._reason(exc)}",
                            hint="Check the server; the task resumes from its checkpoint when started again.") from exc
                    log.warning("replication stream from %s lost (%s); reconnecting from %s in %.1fs",
                                address(self.config), self._reason(exc), self.resume, delay)
                    self.close()
                    self._rewind()
                    self.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
        finally:
            self.close()

    def _reason(self, exc: BaseException) -> str:
        return redact(" ".join(str(exc).split()), self.config.password)

    def _rewind(self) -> None:
        """Before reconnecting from self.resume: the open transaction is replayed, minus what was yielded."""
        if self.in_transaction:
            self.skip = self.emitted
        self.in_transaction = False
        self.emitted = 0
        self.relations.clear()  # the server sends every Relation again on a new connection
        self.last_commit = self.resume

    def _stream(self, conn: PGconn) -> Generator[ChangeEvent, None, None]:
        self._send_status(conn, reply=True)
        last_status = time.monotonic()
        last_event = time.monotonic()
        while True:
            size, data = conn.get_copy_data(1)
            now = time.monotonic()
            if now - last_status >= self.heartbeat:
                # Busy or idle: the server ends a stream that reports nothing for wal_sender_timeout.
                self._send_status(conn, reply=size == 0)
                last_status = now
            if size == 0:
                if now - last_event >= self.heartbeat:
                    last_event = now
                    heartbeat = self._heartbeat()
                    if heartbeat.position is not None:
                        self.resume = heartbeat.position  # type: ignore[assignment]
                    yield heartbeat
                ready, _, _ = select.select([conn.socket], [], [], self.heartbeat / 2)
                if ready:
                    conn.consume_input()
                continue
            if size < 0:
                raise self._ended(conn)
            message = bytes(data)
            if message[:1] == b"w":
                start, end, _sent = _XLOG_HEADER.unpack_from(message, 1)
                self.received = max(self.received, end, start)
                for event in self._decode(pgoutput.decode(message[25:])):
                    last_event = time.monotonic()
                    if event.op == COMMIT:
                        self.resume = self.last_commit
                    yield event
            elif message[:1] == b"k":
                end, _sent, reply = _KEEPALIVE.unpack_from(message, 1)
                self.received = max(self.received, end)
                self.server_position = max(self.server_position, end)
                if reply:
                    self._send_status(conn, reply=False)
                    last_status = time.monotonic()

    def close(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.conn.close()
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if conn.status == pq.ConnStatus.OK:
                conn.nonblocking = 0
                self._send_status(conn, reply=False)  # the last confirmed position, so the slot moves on
        except psycopg.Error as exc:  # the connection is going anyway
            log.debug("final status update failed: %s", exc)
        finally:
            conn.finish()

    def _heartbeat(self) -> ChangeEvent:
        position = None
        if not self.in_transaction:
            position = Lsn(max(self.server_position, self.last_commit.value))
        return ChangeEvent(HEARTBEAT, None, None, None, None, time.time(), position)

    # -- messages to events ------------------------------------------------------------------------

    def _decode(self, message: pgoutput.Message) -> list[ChangeEvent]:
        if isinstance(message, pgoutput.Begin):
            self.in_transaction = True
            self.emitted = 0
            self.commit_time = message.commit_time
            return []
        if isinstance(message, pgoutput.Commit):
            if self.skip:
                raise pgoutput.ProtocolError(f"a replayed transaction had {self.skip} change(s) fewer than before")
            self.in_transaction = False
            self.emitted = 0
            self.last_commit = Lsn(message.end_lsn)
            self.server_position = max(self.server_position, message.end_lsn)
            return [ChangeEvent(COMMIT, None, None, None, None, message.commit_time, self.last_commit)]
        if isinstance(message, pgoutput.Relation):
            return self._relation(message)  # its drift events are not counted: a replay finds no drift again
        return self._counted(self._change(message))

    def _counted(self, events: list[ChangeEvent]) -> list[ChangeEvent]:
        """Changes of the open transaction, minus those yielded before a reconnect."""
        kept = []
        for event in events:
            if self.skip:
                self.skip -= 1
                continue
            self.emitted += 1
            kept.append(event)
        return kept

    def _change(self, message: pgoutput.Message) -> list[ChangeEvent]:
        if isinstance(message, pgoutput.Insert):
            rel = self._rel(message.relation)
            if rel is None:
                return []
            after = self._row(rel, message.new, None)
            return [ChangeEvent(INSERT, rel.table, rel.schema, None, after, self.commit_time, self.last_commit)]
        if isinstance(message, pgoutput.Update):
            rel = self._rel(message.relation)
            if rel is None:
                return []
            before = self._row(rel, message.old, None) if message.old is not None else None
            after = self._row(rel, message.new, message.old if not message.old_is_key_only else None)
            if before is None:
                before = after  # the key did not change: the server sends no old tuple
            return [ChangeEvent(UPDATE, rel.table, rel.schema, before, after, self.commit_time, self.last_commit)]
        if isinstance(message, pgoutput.Delete):
            rel = self._rel(message.relation)
            if rel is None:
                return []
            before = self._row(rel, message.old, None)
            return [ChangeEvent(DELETE, rel.table, rel.schema, before, None, self.commit_time, self.last_commit)]
        if isinstance(message, pgoutput.Truncate):
            events = []
            for oid in message.relations:
                rel = self._rel(oid)
                if rel is not None:
                    statement = sql.SQL("TRUNCATE TABLE {}").format(
                        sql.Identifier(rel.table.database, rel.table.name)).as_string(None)
                    events.append(ChangeEvent(DDL, rel.table, rel.schema, None, None, self.commit_time,
                                              self.last_commit, ddl=statement))
            return events
        return []

    def _rel(self, oid: int) -> _Relation | None:
        if oid not in self.relations:
            raise pgoutput.ProtocolError(f"a change for relation {oid} before its Relation message")
        return self.relations[oid]

    def _row(self, rel: _Relation, values: list[pgoutput.Value] | None, old: list[pgoutput.Value] | None
             ) -> tuple[Any, ...]:
        assert values is not None
        loaders = rel.loaders
        if len(values) != len(loaders):
            raise pgoutput.ProtocolError(f"{rel.table}: a tuple of {len(values)} values for {len(loaders)} columns")
        if pgoutput.UNCHANGED not in values:  # the common case, kept tight
            return tuple([None if value is None else load(value)  # type: ignore[arg-type]
                          for value, load in zip(values, loaders, strict=True)])
        row: list[Any] = []
        missing: list[int] = []
        for index, (value, load) in enumerate(zip(values, rel.loaders, strict=True)):
            if value is None:
                row.append(None)
            elif value is pgoutput.UNCHANGED:
                kept = old[index] if old is not None else pgoutput.UNCHANGED
                if isinstance(kept, bytes):
                    row.append(load(kept))
                else:
                    row.append(None)
                    missing.append(index)
            else:
                assert isinstance(value, bytes)
                row.append(load(value))
        if missing:
            self._fill_unchanged(rel, row, missing)
        return tuple(row)

    def _fill_unchanged(self, rel: _Relation, row: list[Any], missing: list[int]) -> None:
        """TOASTed values the update did not touch (and the server did not resend): read them from the table.

        The value read may be newer than this event (the stream is behind); any later change of the
        row follows in the stream, so the target still ends equal to the source.
        """
        schema = rel.schema
        key = schema.key_columns
        if not key:
            raise ConnectorError(
                f"{rel.table}: an update left large (TOASTed) values out and the table has no key to read them by",
                hint=f"Run ALTER TABLE {sql.Identifier(rel.table.database, rel.table.name).as_string(None)} "
                     "REPLICA IDENTITY FULL so updates carry every old value.")
        names = [schema.columns[i].name for i in missing]
        query = sql.SQL("SELECT {cols} FROM {table} WHERE {key} = ({params})").format(
            cols=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names),
            table=sql.Identifier(rel.table.database, rel.table.name),
            key=sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(k) for k in key)),
            params=sql.SQL(", ").join(sql.Placeholder() for _ in key))
        key_values = [row[i] for i in schema.key_indexes()]
        assert self.reader is not None
        found = self.reader.conn.execute(query, key_values).fetchone()
        if found is None:
            return  # deleted since: its delete follows in the stream
        for index, text in zip(missing, found, strict=True):
            row[index] = None if text is None else rel.loaders[index](text.encode())

    def _relation(self, message: pgoutput.Relation) -> list[ChangeEvent]:
        table = TableId(message.namespace, message.name)
        if table not in self.tables:
            self.relations[message.oid] = None
            return []
        assert self.reader is not None
        catalog = self.reader.catalog_table(table)
        previous = self.known.get(table)
        if catalog is None:  # dropped since: keep what was known of its keys
            catalog = CatalogTable(table, message.oid, message.replica_identity, (),
                                   previous.primary_key if previous else (),
                                   previous.unique_keys if previous else ())
        schema = self.reader.schema(catalog, [c.name for c in message.columns],
                                    [(c.type_oid, c.type_modifier) for c in message.columns])
        events: list[ChangeEvent] = []
        if previous is not None and previous != schema:
            statement = drift_statement(previous, schema)
            if statement:
                events.append(ChangeEvent(DDL, table, schema, None, None, self.commit_time, self.last_commit,
                                          ddl=statement))
            else:
                schema = previous  # only nullability or keys changed as the catalog shows them now: keep going
        self.known[table] = schema
        loaders = [text_loader(self.reader.transformer, pg) for pg in schema.extra["pg_types"]]
        self.relations[message.oid] = _Relation(table, schema, loaders)
        return events


def drift_statement(old: TableSchema, new: TableSchema) -> str:
    """ALTER TABLE text describing the column changes between two schemas of a table ('' if none)."""
    old_columns = {c.name: c for c in old.columns}
    new_columns = {c.name: c for c in new.columns}
    parts: list[sql.Composable] = []
    for column in old.columns:
        if column.name not in new_columns:
            parts.append(sql.SQL("DROP COLUMN {}").format(sql.Identifier(column.name)))
    for column in new.columns:
        before = old_columns.get(column.name)
        if before is None:
            parts.append(sql.SQL("ADD COLUMN {} {}").format(sql.Identifier(column.name),
                                                           sql.SQL(column.type.native or column.type.kind.value)))
        elif before.type != column.type:
            type_text = sql.SQL(column.type.native or column.type.kind.value)
            parts.append(sql.SQL("ALTER COLUMN {} TYPE {}").format(sql.Identifier(column.name), type_text))
    if not parts:
        return ""
    return sql.SQL("ALTER TABLE {} {}").format(sql.Identifier(new.table.database, new.table.name),
                                               sql.SQL(", ").join(parts)).as_string(None)
