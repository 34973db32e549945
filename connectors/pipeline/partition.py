"""Parallel sink writers: rows are split by hash(table, key) so each key keeps its order (invariant 3).

Batches are written one after another; within a batch the partitions are written in parallel,
each in its own transaction, and the call returns only when every partition has committed.
A partition that fails leaves the batch uncheckpointed, so a resume replays it (invariant 2).

Tables with a unique key besides the one rows are applied by: a merged batch holds each key's last
image, and upserting those one by one can meet a unique value another row of the batch still holds
at the target (a code swapped between two rows, a key change moving a unique value from the old
key's row to the new key's). Such a table's batch is therefore never split across partitions, and
every key it upserts is deleted first, in the same transaction: after the deletes, the target
holds the rows the batch does not touch, and the batch's final images fit beside them as they do
at the source.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.base import Batch, Sink, TableBatch

LOCK_RETRIES = 3
MYSQL_LOCK_CODES = (1205, 1213)  # lock wait timeout, deadlock


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock or lock timeout: the transaction was rolled back and may simply run again."""
    module = type(exc).__module__
    if module.startswith("pymysql") or module.startswith("MySQLdb"):
        return bool(exc.args) and exc.args[0] in MYSQL_LOCK_CODES
    if module.startswith("psycopg"):
        import psycopg

        return isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.LockNotAvailable)
    return False


def has_other_unique_keys(entry: TableBatch) -> bool:
    key = tuple(entry.schema.key_columns)
    return any(tuple(unique) != key for unique in entry.schema.unique_keys)


def unique_safe(batch: Batch) -> Batch:
    """The batch with, for tables having other unique keys, every upserted key also deleted first."""
    if not any(entry.upserts and has_other_unique_keys(entry) for entry in batch.tables.values()):
        return batch
    safe = Batch(position=batch.position, commit_time=batch.commit_time)
    for table_id, entry in batch.tables.items():
        if entry.upserts and has_other_unique_keys(entry):
            entry = TableBatch(entry.schema, entry.target, entry.upserts, entry.deletes | set(entry.upserts))
        safe.tables[table_id] = entry
    return safe


def split(batch: Batch, parts: int) -> list[Batch]:
    if parts == 1:
        return [batch]
    out = [Batch(position=batch.position, commit_time=batch.commit_time) for _ in range(parts)]
    for table_id, entry in batch.tables.items():
        if has_other_unique_keys(entry) or entry.appends or entry.skipped_deletes:
            # One partition: unique values move between rows, or (keyless) there is no key to split by.
            out[hash(table_id) % parts].tables[table_id] = entry
            continue
        pieces = [TableBatch(entry.schema, entry.target) for _ in range(parts)]
        for key, row in entry.upserts.items():
            pieces[hash(key) % parts].upserts[key] = row
        for key in entry.deletes:
            pieces[hash(key) % parts].deletes.add(key)
        for index, piece in enumerate(pieces):
            if piece.upserts or piece.deletes:
                out[index].tables[table_id] = piece
    return out


class PartitionedWriter:
    def __init__(self, sink_factory: Callable[[], Sink], parallelism: int) -> None:
        self.sinks = [sink_factory() for _ in range(parallelism)]
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="sink") if parallelism > 1 else None

    def write(self, batch: Batch, **kwargs: Any) -> None:
        if not batch.tables:
            return
        batch = unique_safe(batch)
        if self._pool is None or batch.row_count < 2 * len(self.sinks):
            self.sinks[0].write(batch, **kwargs)
            return
        work = [(sink, part) for sink, part in zip(self.sinks, split(batch, len(self.sinks)), strict=True)
                if part.tables]
        futures = [self._pool.submit(sink.write, part, **kwargs) for sink, part in work]
        errors = [future.exception() for future in futures]
        for (sink, part), error in zip(work, errors, strict=True):
            if error is not None and is_lock_conflict(error):
                # Partitions of one table can deadlock on the target's index locks (InnoDB locks ranges when
                # it checks duplicates). The loser rolled back; alone now, its write cannot meet the others.
                error = self._retry_alone(sink, part, kwargs, error)
            if error is not None:
                raise error

    @staticmethod
    def _retry_alone(sink: Sink, part: Batch, kwargs: dict[str, Any], error: BaseException) -> BaseException | None:
        for _ in range(LOCK_RETRIES):
            try:
                sink.write(part, **kwargs)
                return None
            except Exception as exc:  # noqa: BLE001  (the last one is raised by the caller)
                if not is_lock_conflict(exc):
                    return exc
                error = exc
        return error

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for sink in self.sinks:
            sink.close()
