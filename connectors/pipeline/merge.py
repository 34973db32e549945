"""Merging change events into a batch: one final state per key (invariant 4).

Within a batch, an insert then updates become an upsert of the last image; any sequence that
ends in a delete becomes a delete. An insert followed by a delete is kept as a delete, not
dropped: after a resume the target may already hold that row from the earlier attempt.
An update that changes the key is a delete of the old key plus an upsert of the new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.base import Batch, TableBatch
from connectors.events import DELETE, INSERT, UPDATE, ChangeEvent, Position
from connectors.types import TableId


class BatchBuilder:
    def __init__(self, target_of: Callable[[TableId], TableId]) -> None:
        self._target_of = target_of
        self.reset()

    def reset(self) -> None:
        self.batch = Batch()
        self.events = 0
        self.position: Position | None = None  # last commit position covered by this batch
        self.commit_time: float | None = None
        self.started = time.monotonic()

    def __len__(self) -> int:
        return self.events

    def schema_changed(self, event: ChangeEvent) -> bool:
        """True when the event's table already has rows in this batch under another schema."""
        current = self.batch.tables.get(event.table)  # type: ignore[arg-type]
        return current is not None and current.schema != event.schema

    def add(self, event: ChangeEvent) -> None:
        table = event.table
        assert table is not None and event.schema is not None
        entry = self.batch.tables.get(table)
        if entry is None:
            entry = self.batch.tables[table] = TableBatch(event.schema, self._target_of(table))
        if self.events == 0:
            self.started = time.monotonic()
        self.events += 1
        self.commit_time = event.commit_time
        if not event.schema.key_columns:
            self._add_keyless(entry, event)
            return
        key_at = event.schema.key_indexes()
        if event.op == INSERT:
            assert event.after is not None
            key = tuple(event.after[i] for i in key_at)
            entry.deletes.discard(key)
            entry.upserts[key] = event.after
        elif event.op == UPDATE:
            assert event.before is not None and event.after is not None
            old = tuple(event.before[i] for i in key_at)
            new = tuple(event.after[i] for i in key_at)
            if old != new:
                entry.upserts.pop(old, None)
                entry.deletes.add(old)
            entry.deletes.discard(new)
            entry.upserts[new] = event.after
        elif event.op == DELETE:
            assert event.before is not None
            key = tuple(event.before[i] for i in key_at)
            entry.upserts.pop(key, None)
            entry.deletes.add(key)
        else:
            raise ValueError(f"not a row event: {event.op}")

    @staticmethod
    def _add_keyless(entry: TableBatch, event: ChangeEvent) -> None:
        """Append-only (at least once): new images are appended; deletes cannot be applied."""
        if event.op in (INSERT, UPDATE):
            assert event.after is not None
            entry.appends.append(event.after)
        elif event.op == DELETE:
            entry.skipped_deletes += 1
        else:
            raise ValueError(f"not a row event: {event.op}")

    def commit(self, position: Position, commit_time: float) -> None:
        self.position = position
        self.commit_time = commit_time

    def take(self) -> tuple[Batch, Position | None, float | None, int]:
        """The batch so far with its checkpointable position; the builder starts afresh."""
        taken = (self.batch, self.position, self.commit_time, self.events)
        self.reset()
        return taken
