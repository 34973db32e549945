"""Change events: what a source's change stream yields and a sink applies.

Events are created for every row change, so they are slotted objects holding tuples (rows in
the column order of their TableSchema), not dicts of dicts.
"""

from __future__ import annotations

from typing import Any, Protocol

from connectors.types import TableId, TableSchema

INSERT = "insert"
UPDATE = "update"
DELETE = "delete"
DDL = "ddl"
COMMIT = "commit"  # end of a source transaction: positions are safe to checkpoint only here
HEARTBEAT = "heartbeat"  # the source is alive and idle; carries its position and time

ROW_OPS = frozenset({INSERT, UPDATE, DELETE})


class Position(Protocol):
    """Where a change stream is. Opaque to the engine, JSON-serialisable, ordered within a source."""

    def to_json(self) -> dict[str, Any]: ...

    def __lt__(self, other: Any) -> bool: ...


class ChangeEvent:
    __slots__ = ("after", "before", "commit_time", "ddl", "op", "position", "schema", "table")

    def __init__(self, op: str, table: TableId | None, schema: TableSchema | None, before: tuple[Any, ...] | None,
                 after: tuple[Any, ...] | None, commit_time: float, position: Position | None,
                 ddl: str | None = None) -> None:
        self.op = op
        self.table = table
        self.schema = schema  # the table's schema as of this event, never a later one
        self.before = before  # full row image before the change (update, delete)
        self.after = after  # full row image after the change (insert, update)
        self.commit_time = commit_time  # source commit time, seconds since the epoch (UTC)
        self.position = position
        self.ddl = ddl  # the statement, for DDL events

    def key(self) -> tuple[Any, ...]:
        """The primary-key values of the row this event addresses (the old key for a delete)."""
        assert self.schema is not None
        row = self.after if self.op == INSERT else self.before
        assert row is not None
        return tuple(row[i] for i in self.schema.key_indexes())

    def new_key(self) -> tuple[Any, ...]:
        assert self.schema is not None and self.after is not None
        return tuple(self.after[i] for i in self.schema.key_indexes())

    def __repr__(self) -> str:
        return f"ChangeEvent({self.op}, {self.table}, before={self.before}, after={self.after}, at={self.position})"
