"""One snapshot chunk through the table's plan into the sink; shared by in-process and distributed loaders.

A chunk normally replaces its key range at the target (so a re-run leaves no duplicates). A
target that several source tables write to (a routed shard merge), or whose key differs from
the source's (the shard column added to it), cannot have a source key range replaced: the
chunk's rows are upserted instead, which is as re-runnable, and the stream that follows the
snapshot replays every delete made meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectors.base import Batch, Chunk, Sink, TableBatch
from connectors.quarantine import QuarantinedRow, quarantined
from connectors.transform import TablePlan, TransformError

OnDirty = Callable[[QuarantinedRow], None]


def transformed_rows(plan: TablePlan, rows: Iterable[tuple[Any, ...]], on_dirty: OnDirty | None,
                     position: dict[str, Any] | None) -> Iterator[tuple[Any, ...]]:
    """Rows as they land at the target; filtered rows are left out, rows a rule cannot process go to
    on_dirty (or raise TransformError when the task has no quarantine)."""
    row_of = plan.row
    try:
        for row in rows:
            try:
                out = row_of(row)
            except TransformError as exc:
                if on_dirty is None:
                    raise
                on_dirty(quarantined(plan.source_schema, row, exc.column, str(exc), target=str(plan.target),
                                     position=position, stage="transform"))
                continue
            if out is not None:
                yield out
    finally:
        # Abandoned (an error, the quarantine limit): end the source's read now, so its connection and
        # snapshot transaction are released with the chunk, not whenever the generator is collected.
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def load_chunk(plan: TablePlan, sink: Sink, chunk: Chunk, rows: Iterable[tuple[Any, ...]],
               on_dirty: OnDirty | None = None) -> int:
    """Write one chunk's rows through the plan; returns the rows written."""
    kwargs: dict[str, Any] = {"on_dirty": on_dirty} if on_dirty is not None else {}
    if plan.identity and not plan.upsert_snapshot:
        return sink.load_chunk(plan.source_schema, plan.target, chunk, rows, **kwargs)
    out = transformed_rows(plan, rows, on_dirty, {"chunk": chunk.to_json()})
    if not plan.upsert_snapshot:
        return sink.load_chunk(plan.target_schema, plan.target, chunk, out, **kwargs)
    schema = plan.target_schema
    entry = TableBatch(schema, plan.target)
    if schema.key_columns:
        key_at = schema.key_indexes()
        entry.upserts = {tuple(row[i] for i in key_at): row for row in out}
    else:
        entry.appends = list(out)
    written = len(entry.upserts) + len(entry.appends)
    rejected = 0

    def count_dirty(row: QuarantinedRow) -> None:
        nonlocal rejected
        rejected += 1
        assert on_dirty is not None
        on_dirty(row)

    if written:
        sink.write(Batch({schema.table: entry}), **({"on_dirty": count_dirty} if on_dirty is not None else {}))
    return written - rejected
