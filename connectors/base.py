"""The connector contract: what every source and sink provides, and the values they exchange.

A connector is a class registered in connectors.registry. Pre-flight checks and catalog
discovery are the first part of the contract; snapshot, change capture and writing extend
it (see Source and Sink).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.events import ChangeEvent, Position
from connectors.keys import key_from_json, key_to_json
from connectors.types import TableId, TableSchema


class CheckScope(str, enum.Enum):
    CONNECTION = "connection"  # needed whatever the datasource is used for
    SOURCE = "source"  # needed to read from it (snapshot, change capture)
    SINK = "sink"  # needed to write to it


class CheckStatus(str, enum.Enum):
    PASSED = "passed"
    WARNING = "warning"  # works, but something a user should know (e.g. short binlog retention)
    FAILED = "failed"  # a precondition is not met: the hint says how to fix it
    SKIPPED = "skipped"  # not checked, because an earlier check failed


@dataclass
class CheckItem:
    name: str  # stable identifier, e.g. "binlog_format"
    title: str  # what was checked, for people
    status: CheckStatus
    detail: str = ""  # what was found
    hint: str = ""  # how to fix it, when not passed
    scope: CheckScope = CheckScope.CONNECTION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["scope"] = self.scope.value
        return data


@dataclass
class CheckReport:
    """Every pre-flight check for one datasource, in the order they ran."""

    engine: str
    items: list[CheckItem] = field(default_factory=list)
    server_version: str = ""

    def add(self, name: str, title: str, status: CheckStatus, detail: str = "", hint: str = "",
            scope: CheckScope = CheckScope.CONNECTION) -> CheckItem:
        item = CheckItem(name, title, status, detail, hint if status != CheckStatus.PASSED else "", scope)
        self.items.append(item)
        return item

    def skip_rest(self, checks: list[tuple[str, str, CheckScope]], reason: str) -> None:
        """Record checks that could not run (e.g. after a failed login) as skipped, with the reason."""
        for name, title, scope in checks:
            self.add(name, title, CheckStatus.SKIPPED, reason, scope=scope)

    def status_for(self, scope: CheckScope) -> CheckStatus:
        """Overall status for one use: connection checks plus that scope's checks."""
        return self._worst([i.status for i in self.items if i.scope in (CheckScope.CONNECTION, scope)])

    @property
    def status(self) -> CheckStatus:
        return self._worst([item.status for item in self.items])

    @staticmethod
    def _worst(statuses_list: list[CheckStatus]) -> CheckStatus:
        statuses = set(statuses_list)
        if CheckStatus.FAILED in statuses:
            return CheckStatus.FAILED
        if CheckStatus.WARNING in statuses:
            return CheckStatus.WARNING
        return CheckStatus.PASSED

    @property
    def ok(self) -> bool:
        return self.status != CheckStatus.FAILED

    def item(self, name: str) -> CheckItem:
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "status": self.status.value, "server_version": self.server_version,
                "usable_as_source": self.status_for(CheckScope.SOURCE) != CheckStatus.FAILED,
                "usable_as_sink": self.status_for(CheckScope.SINK) != CheckStatus.FAILED,
                "items": [item.to_dict() for item in self.items]}


@dataclass
class Column:
    name: str
    type: str  # the engine's own type text, e.g. "bigint(20) unsigned", "numeric(12,2)"
    nullable: bool = True
    default: str | None = None
    ordinal: int = 0
    comment: str = ""


@dataclass
class Table:
    database: str
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    unique_keys: list[list[str]] = field(default_factory=list)
    estimated_rows: int | None = None
    kind: str = "table"  # table, view, collection, stream
    comment: str = ""

    @property
    def id(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass
class Catalog:
    """What a datasource holds: databases (schemas for PostgreSQL), their tables and columns."""

    engine: str
    tables: list[Table] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)

    def table(self, database: str, name: str) -> Table:
        for table in self.tables:
            if table.database == database and table.name == name:
                return table
        raise KeyError(f"{database}.{name}")

    def to_dict(self) -> dict[str, Any]:
        databases: dict[str, list[dict[str, Any]]] = {name: [] for name in self.databases}
        for table in self.tables:
            entry = asdict(table)
            entry.pop("database")
            databases.setdefault(table.database, []).append(entry)
        return {"engine": self.engine,
                "databases": [{"name": name, "tables": tables} for name, tables in databases.items()]}


class Connector:
    """Base of every connector class: checks and discovery over a ConnectionConfig."""

    engine: ClassVar[str] = ""
    # Connection-form fields this engine uses, for forms generated from the spec.
    default_port: ClassVar[int] = 0
    supports_source: ClassVar[bool] = False
    supports_sink: ClassVar[bool] = False

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config

    def check(self) -> CheckReport:
        """Run every pre-flight check (connection, source and sink scopes) within bounded timeouts.

        Never raises for a failed precondition: it is recorded as an item with a fix hint, and
        checks that cannot run after it are recorded as skipped.
        """
        raise NotImplementedError

    def discover(self) -> Catalog:
        """List databases, tables, columns, keys and row estimates."""
        raise NotImplementedError


class Source(Connector):
    """Reads a datasource: its schema, a chunked snapshot, and its change stream."""

    supports_source: ClassVar[bool] = True

    def table_schema(self, table: TableId) -> TableSchema:
        """The table's current columns and keys in canonical types."""
        raise NotImplementedError

    def snapshot_chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        """Split a table into primary-key ranges, without locking it."""
        raise NotImplementedError

    def read_chunk(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        """Rows of one chunk, in schema column order."""
        raise NotImplementedError

    def current_position(self) -> Position:
        """The head of the change log now; a snapshot taken after this joins the stream with no gap.

        Covers the tables whose table_schema() was read before this call (a PostgreSQL publication
        can only carry changes of tables it held when they were written), so read them first.
        """
        raise NotImplementedError

    def changes(self, start: Position, tables: set[TableId]) -> Iterator[ChangeEvent]:
        """Row, DDL, commit and heartbeat events from start (exclusive of what start already covers)."""
        raise NotImplementedError

    def position_from_json(self, data: dict[str, Any]) -> Position:
        raise NotImplementedError

    def confirm(self, position: Position) -> None:
        """The target committed everything up to position: the source may free its log before it.

        Called after each checkpoint. PostgreSQL reports it to the slot so the server releases WAL;
        sources whose log the server keeps on its own terms (MySQL binlog) need nothing.
        """

    def close(self) -> None:
        """Release connections and replication streams."""


class Sink(Connector):
    """Writes to a datasource: creates tables, bulk-loads snapshots, applies merged change batches."""

    supports_sink: ClassVar[bool] = True

    def prepare(self, schema: TableSchema, target: TableId, *, if_exists: str = "keep",
                defer_indexes: bool = False) -> None:
        """Create the target table from the canonical schema (if_exists: keep, drop, truncate, fail).

        With defer_indexes, secondary keys wait for finish_table (after a bulk load).
        """
        raise NotImplementedError

    def finish_table(self, schema: TableSchema, target: TableId) -> None:
        """Build what prepare deferred and refresh statistics; idempotent."""
        raise NotImplementedError

    def load_chunk(self, schema: TableSchema, target: TableId, chunk: Chunk, rows: Iterable[tuple[Any, ...]]) -> int:
        """Replace the chunk's key range at the target with rows, in one transaction (re-runnable)."""
        raise NotImplementedError

    def write(self, batch: Batch) -> None:
        """Apply merged upserts and deletes for one or more tables in one transaction (idempotent)."""
        raise NotImplementedError

    def apply_ddl(self, event: ChangeEvent, target: TableId) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class Chunk:
    """A primary-key range [low, high) of a table; None means unbounded on that side."""

    table: TableId
    index: int
    low: tuple[Any, ...] | None
    high: tuple[Any, ...] | None

    def to_json(self) -> dict[str, Any]:
        return {"table": str(self.table), "index": self.index, "low": key_to_json(self.low),
                "high": key_to_json(self.high)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(TableId.parse(data["table"]), data["index"], key_from_json(data["low"]),
                   key_from_json(data["high"]))


def keyless_chunk(schema: TableSchema, options: dict[str, Any], table_sql: str) -> Chunk:
    """The one whole-table chunk of a table without a usable key, when the task allows such tables.

    Otherwise the error names the two ways out; table_sql is the table as the engine writes it.
    """
    if options.get("allow_no_primary_key"):
        return Chunk(schema.table, 0, None, None)
    raise ConnectorError(
        f"table {schema.table} has no primary key and no unique key on NOT NULL columns: it cannot be read in "
        "chunks, and changes to it cannot be applied by key",
        hint=f"Add a primary key (ALTER TABLE {table_sql} ADD PRIMARY KEY (...)), or enable the task option "
             "allow_no_primary_key (at-least-once: duplicates are possible).")


@dataclass
class TableBatch:
    """Merged changes for one table: the last image per key to upsert, and keys to delete.

    A table without a key (allowed only by the task option allow_no_primary_key) cannot be
    merged: its inserted rows and updated images are appended, and its deletes are counted as
    skipped, never silently lost.
    """

    schema: TableSchema
    target: TableId
    upserts: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    deletes: set[tuple[Any, ...]] = field(default_factory=set)
    appends: list[tuple[Any, ...]] = field(default_factory=list)
    skipped_deletes: int = 0


@dataclass
class Batch:
    tables: dict[TableId, TableBatch] = field(default_factory=dict)
    # Where the source was when these changes were read, for sinks that publish it (Redis Streams).
    position: dict[str, Any] | None = None
    commit_time: float | None = None

    @property
    def row_count(self) -> int:
        return sum(len(t.upserts) + len(t.deletes) + len(t.appends) for t in self.tables.values())
