"""The PostgreSQL source: table schemas, chunked snapshots, and the logical-decoding change stream.

Options read from ConnectionConfig.options (besides those of connection.py):
    slot_name             the task's logical replication slot (the control plane sets dts_task_<id>);
                          default dts_s<server_id> when the task has a server_id
    publication_name      the task's publication (default: the slot name)
    heartbeat_interval    seconds of source idleness between heartbeat events (default 1)
    reconnect_timeout     seconds to keep reconnecting a lost replication stream before failing (default 600)
    allow_no_primary_key  read a table without a usable key as one unbounded chunk

The slot and the publication belong to the task. current_position() adds the tables whose schemas
this source has read to the publication (creating it), then creates the slot if it is missing,
before it reads the WAL position, so a snapshot taken afterwards joins the stream with no gap.
changes() adds any table still missing. release() drops both, when the task is deleted.

A table joins the publication only if the server can publish its updates and deletes (a key or
REPLICA IDENTITY FULL): otherwise the application's own UPDATEs would start failing.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Generator, Iterator
from typing import Any

import psycopg
from psycopg import sql

from connectors.base import CheckItem, CheckScope, CheckStatus, Chunk, Source
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import ChangeEvent, Position
from connectors.postgresql.connection import address, redact
from connectors.postgresql.connector import PostgreSQLConnector
from connectors.postgresql.position import Lsn, parse_lsn
from connectors.postgresql.replication import ChangeStream, check_name
from connectors.postgresql.snapshot import SnapshotReader, open_session
from connectors.postgresql.source_schema import SchemaReader
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

CONTROL_QUERY_TIMEOUT = 60.0
SLOT_LAG_WARNING_BYTES = 1 << 30  # retained WAL worth a warning in the pre-check
RELEASE_WAIT = 10.0  # seconds to wait for a stopped task's walsender to let go of the slot


class _Pins:
    """Positions current_position() handed out that no stream has started from yet, per slot, in this process.

    A running task that adds tables takes a position before copying them, while the other tables
    stream on (through another source object) and confirm their progress; it then restarts the
    stream from that position. The server would skip anything before the slot's confirmed position,
    so confirmations stop at the oldest pin until a stream covering the pin's tables starts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pins: dict[str, list[tuple[int, frozenset[TableId]]]] = {}

    def add(self, slot: str, lsn: int, tables: frozenset[TableId]) -> None:
        with self._lock:
            self._pins.setdefault(slot, []).append((lsn, tables))

    def covered(self, slot: str, tables: frozenset[TableId]) -> None:
        """A stream of tables starts: pins taken for no more than those tables have served their purpose."""
        with self._lock:
            kept = [(lsn, pinned) for lsn, pinned in self._pins.get(slot, []) if not pinned <= tables]
            if kept:
                self._pins[slot] = kept
            else:
                self._pins.pop(slot, None)

    def lowest(self, slot: str) -> int | None:
        with self._lock:
            pins = self._pins.get(slot)
            return min(lsn for lsn, _ in pins) if pins else None


_pins = _Pins()


def slot_name_for(options: dict[str, Any]) -> str:
    if options.get("slot_name"):
        return check_name(str(options["slot_name"]), "slot_name")
    if options.get("server_id"):
        return check_name(f"dts_s{int(options['server_id'])}", "slot_name")
    raise ConnectorError("the PostgreSQL change stream needs a replication slot name",
                         hint="Set the source option slot_name (e.g. \"dts_mytask\"), or give the task a server_id; "
                              "tasks run by the control plane get dts_task_<id>.")


class PostgreSQLSource(PostgreSQLConnector, Source):
    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._control: psycopg.Connection[tuple[Any, ...]] | None = None
        self._reader: SchemaReader | None = None
        self._snapshot: SnapshotReader | None = None
        self._read_tables: dict[TableId, TableSchema] = {}  # the schemas this source gave, by table
        self._streams: weakref.WeakSet[Generator[ChangeEvent, None, None]] = weakref.WeakSet()
        self._confirmed = 0
        self._confirm_lock = threading.Lock()

    # -- names -------------------------------------------------------------------------------------

    @property
    def slot(self) -> str:
        return slot_name_for(self.config.options)

    @property
    def publication(self) -> str:
        name = self.config.options.get("publication_name") or self.slot
        return check_name(str(name), "publication_name")

    # -- control connection ------------------------------------------------------------------------

    def _error(self, exc: psycopg.Error) -> str:
        return redact(" ".join(str(exc).split()), self.config.password)

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._control is None or self._control.closed:
            self._control = open_session(self.config, CONTROL_QUERY_TIMEOUT)
            self._reader = SchemaReader(self._control)
        return self._control

    @property
    def reader(self) -> SchemaReader:
        self._conn()
        assert self._reader is not None
        return self._reader

    def _run(self, what: str, query: sql.Composed | str, params: list[Any] | None = None,
             hint: str = "") -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn().execute(query, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError as exc:
            self._control = None
            raise ConnectionFailed(f"lost the connection to {address(self.config)} {what}: {self._error(exc)}",
                                   hint="Check the server and the network.") from exc
        except psycopg.Error as exc:
            raise ConnectorError(f"{what} on {address(self.config)} failed: {self._error(exc)}",
                                 hint=hint or "Check the server log.") from exc

    # -- schema and snapshot -----------------------------------------------------------------------

    def table_schema(self, table: TableId) -> TableSchema:
        try:
            catalog = self.reader.catalog_table(table)
            if catalog is None:
                raise ConnectorError(f"table {table} does not exist on {address(self.config)}",
                                     hint="Check the schema and table name, or refresh the datasource's catalog.")
            schema = self.reader.schema(catalog)
        except psycopg.Error as exc:
            raise ConnectorError(f"reading the schema of {table} failed: {self._error(exc)}",
                                 hint=f"Make sure '{self.config.user}' may read pg_catalog.") from exc
        self._read_tables[table] = schema
        return schema

    @property
    def snapshot(self) -> SnapshotReader:
        if self._snapshot is None:
            self._snapshot = SnapshotReader(self.config)
        return self._snapshot

    def snapshot_chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        return self.snapshot.chunks(schema, chunk_size)

    def read_chunk(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        return self.snapshot.read(schema, chunk)

    # -- slot and publication ----------------------------------------------------------------------

    def slot_state(self) -> dict[str, Any] | None:
        """The task's slot: whether a stream holds it, its confirmed position and the WAL it retains (bytes)."""
        rows = self._run("reading the replication slot", (
            "SELECT active, confirmed_flush_lsn::text, restart_lsn::text, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8, plugin::text, database::text "
            "FROM pg_replication_slots WHERE slot_name = %s"), [self.slot])
        if not rows:
            return None
        active, confirmed, restart, retained, behind, plugin, database = rows[0]
        return {"slot": self.slot, "active": bool(active), "confirmed_flush_lsn": confirmed, "restart_lsn": restart,
                "retained_wal_bytes": int(retained or 0), "unconfirmed_bytes": int(behind or 0), "plugin": plugin,
                "database": database}

    def _ensure_slot(self) -> None:
        state = self.slot_state()
        if state is not None:
            if state["plugin"] != "pgoutput" or state["database"] != (self.config.database or "postgres"):
                raise ConnectorError(
                    f"replication slot {self.slot} exists for plugin {state['plugin']} on database "
                    f"{state['database']}, not pgoutput on {self.config.database or 'postgres'}",
                    hint="Give the task another slot_name, or drop that slot if nothing uses it.")
            return
        self._run("creating the replication slot",
                  "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [self.slot],
                  hint=f"'{self.config.user}' needs the REPLICATION attribute, wal_level must be logical, and "
                       "max_replication_slots must leave a slot free.")
        log.info("created replication slot %s", self.slot)

    def _check_publishable(self, table: TableId) -> None:
        """Refuse a table whose updates and deletes the server could not publish (they would fail at the source)."""
        catalog = self.reader.catalog_table(table)
        if catalog is None:
            raise ConnectorError(f"table {table} does not exist on {address(self.config)}",
                                 hint="Check the schema and table name.")
        identity = catalog.replica_identity
        name = sql.Identifier(table.database, table.name).as_string(None)
        if identity == "n":
            raise ConnectorError(f"table {table} has REPLICA IDENTITY NOTHING: its updates and deletes cannot be "
                                 "published, and would fail at the source once it is in the task's publication",
                                 hint=f"Run ALTER TABLE {name} REPLICA IDENTITY DEFAULT (with a primary key) or "
                                      f"REPLICA IDENTITY FULL.")
        if identity == "d" and not catalog.primary_key:
            raise ConnectorError(f"table {table} has no primary key and REPLICA IDENTITY DEFAULT: its updates and "
                                 "deletes cannot be published, and would fail at the source once it is in the "
                                 "task's publication",
                                 hint=f"Add a primary key, or run ALTER TABLE {name} REPLICA IDENTITY FULL.")

    def _ensure_publication(self, tables: set[TableId]) -> None:
        publication = self.publication
        rows = self._run("reading the publication", "SELECT pubinsert AND pubupdate AND pubdelete FROM pg_publication "
                                                    "WHERE pubname = %s", [publication])
        present = {TableId(schema, name) for schema, name in self._run(
            "reading the publication's tables",
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = %s", [publication])}
        missing = sorted(tables - present, key=str)
        for table in missing:
            self._check_publishable(table)
        names = sql.SQL(", ").join(sql.Identifier(t.database, t.name) for t in missing)
        hint = (f"'{self.config.user}' must own the tables to publish them (or be a superuser), and needs CREATE on "
                "the database to create the publication.")
        if not rows:
            query = (sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(publication), names) if missing
                     else sql.SQL("CREATE PUBLICATION {}").format(sql.Identifier(publication)))
            self._run("creating the publication", query, hint=hint)
            log.info("created publication %s for %s", publication, ", ".join(map(str, missing)))
        elif missing:
            statement = sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(sql.Identifier(publication), names)
            self._run("adding tables to the publication", statement, hint=hint)
            log.info("added %s to publication %s", ", ".join(map(str, missing)), publication)

    def release(self) -> list[str]:
        """Drop the task's slot and publication (the task is being deleted); returns what was dropped."""
        dropped = []
        deadline = time.monotonic() + RELEASE_WAIT
        while True:
            state = self.slot_state()
            if state is None:
                break
            if not state["active"]:
                self._run("dropping the replication slot", "SELECT pg_drop_replication_slot(%s)", [self.slot])
                dropped.append(f"slot {self.slot}")
                break
            if time.monotonic() > deadline:
                raise ConnectorError(f"replication slot {self.slot} is still in use by a running stream",
                                     hint="Stop the task first; then delete it again.")
            time.sleep(0.2)
        if self._run("reading the publication", "SELECT 1 FROM pg_publication WHERE pubname = %s", [self.publication]):
            self._run("dropping the publication",
                      sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(self.publication)))
            dropped.append(f"publication {self.publication}")
        return dropped

    def dts_slots(self) -> list[dict[str, Any]]:
        """Every logical slot named dts_* on the server: name, database, active, retained WAL in bytes."""
        rows = self._run("listing replication slots", (
            "SELECT slot_name::text, database::text, active, "
            "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8 FROM pg_replication_slots "
            "WHERE slot_type = 'logical' AND left(slot_name, 4) = 'dts_' ORDER BY slot_name"))
        return [{"slot": name, "database": database, "active": bool(active), "retained_wal_bytes": int(retained)}
                for name, database, active, retained in rows]

    def stream_checks(self, tables: list[TableId], *, allow_no_primary_key: bool = False) -> list[CheckItem]:
        """What the change stream needs per table (replica identity) and the state of the task's slot."""
        items = []
        for table in tables:
            name, title = f"replica_identity:{table}", f"Replica identity of {table}"
            catalog = self.reader.catalog_table(table)
            if catalog is None:
                continue  # the table item already says it is missing
            quoted = sql.Identifier(table.database, table.name).as_string(None)
            identity = catalog.replica_identity
            keyed = bool(catalog.primary_key)
            if identity == "n":
                items.append(CheckItem(name, title, CheckStatus.FAILED,
                                       "REPLICA IDENTITY NOTHING: updates and deletes cannot be published (and would "
                                       "fail at the source once the table is in the task's publication)",
                                       f"Run ALTER TABLE {quoted} REPLICA IDENTITY DEFAULT (with a primary key) or "
                                       "FULL.", CheckScope.SOURCE))
            elif identity == "d" and not keyed:
                items.append(CheckItem(name, title, CheckStatus.FAILED,
                                       "no primary key and REPLICA IDENTITY DEFAULT: updates and deletes cannot be "
                                       "published (and would fail at the source once the table is published)",
                                       f"Add a primary key, or run ALTER TABLE {quoted} REPLICA IDENTITY FULL.",
                                       CheckScope.SOURCE))
            elif identity == "f" and not keyed and not allow_no_primary_key:
                items.append(CheckItem(name, title, CheckStatus.WARNING,
                                       "REPLICA IDENTITY FULL without a key: changes can only be appended",
                                       "Add a primary key for an exact copy, or enable allow_no_primary_key.",
                                       CheckScope.SOURCE))
            else:
                described = {"d": "DEFAULT (the primary key)", "f": "FULL", "i": "USING INDEX"}[identity]
                items.append(CheckItem(name, title, CheckStatus.PASSED, f"REPLICA IDENTITY {described}",
                                       scope=CheckScope.SOURCE))
        state = self.slot_state()
        title = f"Replication slot {self.slot}"
        if state is None:
            items.append(CheckItem("replication_slot", title, CheckStatus.PASSED,
                                   "not created yet: the task creates it (and its publication) when it starts",
                                   scope=CheckScope.SOURCE))
        else:
            retained = state["retained_wal_bytes"]
            detail = (f"{'in use' if state['active'] else 'idle'}; confirmed up to {state['confirmed_flush_lsn']}; "
                      f"retains {retained:,} bytes of WAL")
            status = CheckStatus.WARNING if retained >= SLOT_LAG_WARNING_BYTES else CheckStatus.PASSED
            items.append(CheckItem("replication_slot", title, status, detail,
                                   "Start the task so it catches up and the server can free the WAL, or delete the "
                                   "task to drop the slot." if status != CheckStatus.PASSED else "",
                                   CheckScope.SOURCE))
        return items

    # -- change stream -----------------------------------------------------------------------------

    def current_position(self) -> Lsn:
        # The publication first: pgoutput looks it up with the catalog as of each decoded change, so a
        # slot older than its publication fails on transactions that began in between. Then the slot
        # (it keeps the WAL from here on), then the position.
        self._ensure_publication(set(self._read_tables))
        self._ensure_slot()
        ((lsn,),) = self._run("reading the WAL position", "SELECT pg_current_wal_lsn()::text")
        position = Lsn(parse_lsn(lsn))
        if self._read_tables:  # a task about to copy tables (not, e.g., a compare reading the head)
            _pins.add(self.slot, position.value, frozenset(self._read_tables))
        return position

    def confirm(self, position: Position) -> None:
        """The target committed everything up to position: the server may release the WAL before it."""
        if isinstance(position, dict):
            position = Lsn.from_json(position)
        if not isinstance(position, Lsn):
            raise TypeError(f"a PostgreSQL position is an Lsn, not {type(position).__name__}")
        with self._confirm_lock:
            self._confirmed = max(self._confirmed, position.value)

    def _confirmed_lsn(self) -> int:
        cap = _pins.lowest(self.slot)
        return self._confirmed if cap is None else min(self._confirmed, cap)

    def changes(self, start: Position, tables: set[TableId]) -> Iterator[ChangeEvent]:
        if not isinstance(start, Lsn):
            raise TypeError(f"a PostgreSQL change stream starts from an Lsn, not {type(start).__name__}")
        state = self.slot_state()
        if state is None:
            raise ConnectorError(
                f"replication slot {self.slot} does not exist, so the changes since {start} are not kept",
                hint="Start the task again with a snapshot (mode full+incremental), which creates the slot.")
        if state["confirmed_flush_lsn"] and start.value < parse_lsn(state["confirmed_flush_lsn"]):
            raise ConnectorError(
                f"the stream would start at {start}, before the slot's confirmed position "
                f"{state['confirmed_flush_lsn']}: the server would skip the changes in between",
                hint="Restart the task with a snapshot; if another process used this slot, give the task its own "
                     "slot_name.")
        self._ensure_publication(set(tables))
        _pins.covered(self.slot, frozenset(tables))
        # A Relation message that differs from these is drift. The schemas the task read (before its
        # snapshot) describe the start best; the catalog now may already be ahead of the stream.
        schemas = {}
        for table in tables:
            known = self._read_tables.get(table)
            catalog = self.reader.catalog_table(table) if known is None else None
            if known is not None:
                schemas[table] = known
            elif catalog is not None:
                schemas[table] = self.reader.schema(catalog)
        self.confirm(start)  # a checkpoint: the target has everything before it
        options = self.config.options
        stream = ChangeStream(
            self.config, slot=self.slot, publication=self.publication, start=start, tables=set(tables),
            # The stream gets its own schema connection: it runs on the pipeline's reader thread.
            open_reader=lambda: SchemaReader(open_session(self.config, CONTROL_QUERY_TIMEOUT)),
            schemas=schemas, confirmed=self._confirmed_lsn,
            heartbeat=float(options.get("heartbeat_interval", 1.0)),
            reconnect_timeout=float(options.get("reconnect_timeout", 600.0)))
        events = iter(stream)
        self._streams.add(events)
        return events

    def position_from_json(self, data: dict[str, Any]) -> Lsn:
        return Lsn.from_json(data)

    def close(self) -> None:
        for stream in list(self._streams):
            try:
                stream.close()  # runs the stream's cleanup: its replication connection closes
            except ValueError as exc:  # being read in another thread: it closes when that thread lets go
                log.warning("cannot close a change stream that is being read: %s", exc)
        self._streams.clear()
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
        if self._control is not None:
            try:
                self._control.close()
            except psycopg.Error as exc:  # already broken
                log.debug("closing the control connection: %s", exc)
            self._control = None
            self._reader = None
