"""The change stream: read on one thread, merge into batches at transaction boundaries, write on another.

The reader hands complete batches through a small queue, so reading the next batch overlaps
writing the current one. A batch ends at a source commit once it is big or old enough; only
that commit's position is checkpointed, after every partition of the batch has committed
(invariant 1). DDL is a barrier: the batch before it is written first, then the DDL is
handled by policy, in stream order.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from connectors.base import Batch, Sink, Source, TableBatch
from connectors.errors import ConnectorError
from connectors.events import COMMIT, DDL, HEARTBEAT, ROW_OPS, ChangeEvent, Position
from connectors.pipeline.merge import BatchBuilder
from connectors.pipeline.observer import Observer
from connectors.pipeline.partition import PartitionedWriter
from connectors.pipeline.ratelimit import RateLimiter
from connectors.pipeline.review import APPLY, Reviews, TableResumed, run_statement, target_statement
from connectors.quarantine import QuarantinedRow, quarantined
from connectors.spec import TaskSpec
from connectors.sql_ddl import parse_statement
from connectors.transform import Mapper, TransformError
from connectors.types import TableId, TableSchema

# A transaction bigger than this many batches is written in parts (without checkpointing
# inside it) so memory stays bounded; replays from the previous commit are harmless.
OVERSIZED_TRANSACTION_BATCHES = 4
IDLE_CHECKPOINT_SECONDS = 2.0


class DdlRefused(ConnectorError):
    """The task's DDL policy is 'fail' and the source changed a table's structure."""


class TableReplaced(Exception):
    """A rename put another table under a task table's name (an online schema change's swap).

    Its rows were never streamed, so the table must be copied again; the task runner does that
    through the same path as a table added to a running task.
    """

    def __init__(self, table: TableId) -> None:
        super().__init__(f"{table} was replaced by another table")
        self.table = table


class StreamRunner:
    def __init__(self, spec: TaskSpec, source: Source, writer: PartitionedWriter, ddl_sink: Sink,
                 save_position: Callable[[dict[str, Any]], None], observer: Observer, stop: threading.Event,
                 on_dirty: Callable[[Any], None] | None = None, mapper: Mapper | None = None,
                 reviews: Reviews | None = None) -> None:
        self.spec = spec
        self.mapper = mapper or Mapper(spec.mapping, {m.source: m.target for m in spec.tables})
        self.source = source
        self.writer = writer
        self.ddl_sink = ddl_sink
        self.save_position = save_position
        self.observer = observer
        self.stop = stop
        self.on_dirty = on_dirty
        self.tables = {mapping.source for mapping in spec.tables}
        self._handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
        self._writer_done = threading.Event()  # the reader stops handing off once nobody takes
        self._halt = threading.Event()  # ends the reader; unlike `stop`, it says nothing to the caller
        self._target_shapes: dict[TableId, tuple[str, ...] | None] = {}  # ddl_policy 'ignore' only
        self._cut_schemas: dict[TableSchema, TableSchema] = {}
        self.reviews = reviews if spec.options.ddl_policy == "review" else None
        # Tables whose DDL the mapping drops (drop_ops), or whose reviewed DDL was ignored: their target
        # keeps its shape, as under 'ignore'.
        self._drop_ddl = {table for table in self.tables if self.mapper.drops_ddl(table)}
        if self.reviews is not None:
            self._drop_ddl |= self.reviews.fit & self.tables
        self._next_review_poll = 0.0
        # Sources that hold the log for the reader until told the target has it (PostgreSQL slots).

    def run(self, start: Position) -> None:
        reader = threading.Thread(target=self._read, args=(start,), name="stream-reader", daemon=True)
        reader.start()
        try:
            self._write_loop()
        finally:
            self._writer_done.set()
            self._halt.set()
            reader.join(timeout=30)

    # --- reader thread -------------------------------------------------------------------------
    def _read(self, start: Position) -> None:
        try:
            self._read_events(start)
        except BaseException as exc:  # noqa: BLE001  (handed to the writer thread, which raises it)
            self._put(("error", exc))
        else:
            self._put(("end", None))

    def _put(self, item: tuple[str, Any]) -> None:
        while not self._writer_done.is_set():
            try:
                self._handoff.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _read_events(self, start: Position) -> None:
        options = self.spec.options
        reviews = self.reviews
        builder = BatchBuilder(self.spec.target_of)
        limiter = RateLimiter(options.rate_limit_rows)
        in_transaction = False
        last_idle_checkpoint = 0.0
        for event in self.source.changes(start, self.tables):
            op = event.op
            if op in ROW_OPS:
                if event.table not in self.tables:
                    continue
                if reviews is not None and event.table in reviews.paused:
                    continue  # its DDL waits for review: read again from there once decided
                if limiter.rate:
                    limiter.acquire(1)
                for mapped in self._mapped(event):
                    if builder.schema_changed(mapped):
                        self._flush(builder)
                    builder.add(mapped)
                in_transaction = True
                if len(builder) >= options.batch_size * OVERSIZED_TRANSACTION_BATCHES:
                    self._flush(builder)
            elif op == COMMIT:
                in_transaction = False
                assert event.position is not None
                builder.commit(event.position, event.commit_time)
                if len(builder) >= options.batch_size or self._aged(builder):
                    self._flush(builder)
            elif op == DDL:
                # DDL of tables outside the task is not ours; new tables join by editing the task.
                if event.table in self.tables and self.mapper.drops_ddl(event.table):
                    self.observer.log("info", f"dropped DDL (mapping drop_ops) from {event.table}: {event.ddl}")
                elif event.table in self.tables:
                    if reviews is not None and (event.table in reviews.paused or reviews.decided_before(event)):
                        continue
                    self._flush(builder)
                    if reviews is not None:
                        reviews.pause(event.table)
                    self._put(("ddl", event))
            elif op == HEARTBEAT:
                if in_transaction:
                    continue
                if len(builder) and self._aged(builder):
                    self._flush(builder)
                elif not len(builder) and event.position is not None:
                    now = time.monotonic()
                    if now - last_idle_checkpoint >= IDLE_CHECKPOINT_SECONDS:
                        builder.commit(event.position, event.commit_time)
                        self._flush(builder)
                        last_idle_checkpoint = now
            if self.stop.is_set() or self._halt.is_set():
                break
        if len(builder) or builder.position is not None:
            self._flush(builder)

    def _mapped(self, event: ChangeEvent) -> list[ChangeEvent]:
        """The event through its table's plan; a row a rule cannot process goes to the quarantine or fails."""
        assert event.schema is not None
        plan = self.mapper.plan(event.schema)
        try:
            return plan.events(event)
        except TransformError as exc:
            if self.on_dirty is None:
                raise
            row = event.after if event.after is not None else event.before
            assert row is not None
            position = event.position.to_json() if event.position is not None else None
            self.on_dirty(quarantined(event.schema, row, exc.column, str(exc), target=str(plan.target),
                                      position=position, stage="transform"))
            return []

    def _aged(self, builder: BatchBuilder) -> bool:
        return time.monotonic() - builder.started >= self.spec.options.flush_interval

    def _flush(self, builder: BatchBuilder) -> None:
        self._put(("batch", builder.take()))

    # --- writer (calling) thread ----------------------------------------------------------------
    def _dirty_kwargs(self, position: dict[str, Any] | None) -> dict[str, Any]:
        """The sink's on_dirty for one batch: a quarantined row gets the batch's position when the sink has none."""
        on_dirty = self.on_dirty
        if on_dirty is None:
            return {}

        def with_position(row: QuarantinedRow) -> None:
            on_dirty(row if row.position is not None or position is None
                     else dataclasses.replace(row, position=position))

        return {"on_dirty": with_position}

    def _write_loop(self) -> None:
        while True:
            if self.reviews is not None:
                self._poll_reviews()
            try:
                kind, payload = self._handoff.get(timeout=0.5 if self.reviews is not None else 1.0)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise payload
            if kind == "batch":
                batch, position, commit_time, events = payload
                position_json = position.to_json() if position is not None else None
                if self.spec.options.ddl_policy == "ignore" or self._drop_ddl:
                    batch = self._fit_to_targets(batch)
                batch.position, batch.commit_time = position_json, commit_time
                self.writer.write(batch, **self._dirty_kwargs(position_json))
                if position_json is not None:
                    self._saved(position_json)
                self.observer.applied(events, batch.row_count, position_json, commit_time)
                for table_id, entry in batch.tables.items():
                    if entry.skipped_deletes:
                        self.observer.log("warning", f"{table_id} has no key: {entry.skipped_deletes} deleted row(s) "
                                                     "left at the target (append-only, allow_no_primary_key)")
            elif kind == "ddl":
                self._handle_ddl(payload)

    def _saved(self, position: dict[str, Any]) -> None:
        """Checkpoint a position the target has committed, then tell the source (PostgreSQL frees WAL before it)."""
        self.save_position(position)
        self.source.confirm(self.source.position_from_json(position))

    def _fit_to_targets(self, batch: Batch) -> Batch:
        """Under ddl_policy 'ignore' (or drop_ops 'ddl'): rows cut down to the columns the target table has.

        The target keeps its shape, so a column added at the source is not copied, and a column
        dropped at the source is not written (new rows leave it NULL, updated rows keep its value);
        a renamed column is both. A changed type is not converted: values the target cannot take
        fail the batch (or are quarantined) like any other dirty row.
        """
        fitted = Batch()
        for table, entry in batch.tables.items():
            if self.spec.options.ddl_policy != "ignore" and table not in self._drop_ddl:
                fitted.tables[table] = entry  # its DDL is applied: the target has its shape
                continue
            columns = self._target_columns(entry.target)
            schema = entry.schema
            if columns is None or schema.column_names == columns:
                fitted.tables[table] = entry
                continue
            missing = [name for name in schema.key_columns if name not in columns]
            if missing:
                raise ConnectorError(
                    f"target table {entry.target} has no column {missing[0]!r} of the key of {table}, so changes "
                    "cannot be applied by key", hint="apply the source's DDL to the target by hand and resume, or "
                                                     "use ddl_policy 'apply'")
            keep = [i for i, name in enumerate(schema.column_names) if name in columns]
            cut = self._cut_schemas.get(schema)
            if cut is None:
                cut = self._cut_schemas[schema] = dataclasses.replace(
                    schema, columns=tuple(schema.columns[i] for i in keep),
                    unique_keys=tuple(key for key in schema.unique_keys if set(key) <= set(columns)))
            fitted.tables[table] = TableBatch(
                cut, entry.target, {key: tuple(row[i] for i in keep) for key, row in entry.upserts.items()},
                set(entry.deletes))
        return fitted

    def _target_columns(self, target: TableId) -> tuple[str, ...] | None:
        """The target table's column names (None: unknown, or no such table), read once: 'ignore' never alters it."""
        if target not in self._target_shapes:
            inspect = getattr(self.ddl_sink, "inspect", None)
            shape = inspect(target) if inspect is not None else None
            self._target_shapes[target] = tuple(shape.column_names) if shape is not None else None
        return self._target_shapes[target]

    def _handle_ddl(self, event: ChangeEvent) -> None:
        policy = self.spec.options.ddl_policy
        where = f"{event.table}: {event.ddl}"
        if policy == "review":
            self._hold_for_review(event)
            return
        if policy == "fail":
            raise DdlRefused(f"the source changed {where}",
                             hint="apply it to the target by hand and resume, or set options.ddl_policy to "
                                  "'apply' or 'ignore'")
        if policy == "apply":
            assert event.table is not None
            self.ddl_sink.apply_ddl(self._target_event(event), self.spec.target_of(event.table))
            self.observer.log("info", f"applied DDL from {where}")
        else:
            self.observer.log("warning", f"ignored DDL (policy 'ignore') from {where}")
        if event.position is not None:
            self._saved(event.position.to_json())
        if policy == "apply":
            replaced = self._swapped_in(event)
            if replaced is not None:
                self.observer.log("warning", f"{replaced} was replaced by another table ({event.ddl}): copying it "
                                             "again")
                raise TableReplaced(replaced)

    def _target_event(self, event: ChangeEvent) -> ChangeEvent:
        """The DDL event with the table's schema after the mapping: the sink brings the target to that shape
        (left-out columns stay out, renamed ones keep their target names, added columns stay)."""
        if event.schema is None:
            return event
        plan = self.mapper.plan(event.schema)
        if plan.target_schema.columns == event.schema.columns and plan.target_schema.key_columns == \
                event.schema.key_columns:
            return event
        return ChangeEvent(event.op, event.table, plan.target_schema, event.before, event.after, event.commit_time,
                           event.position, event.ddl)

    def _hold_for_review(self, event: ChangeEvent) -> None:
        assert event.table is not None and self.reviews is not None
        target = self.spec.target_of(event.table)
        try:
            statement, error = target_statement(self.ddl_sink, self._target_event(event), target), ""
        except ConnectorError as exc:  # e.g. a type the target cannot take: the operator writes the statement
            statement, error = "", str(exc)
        self.reviews.hold(event, target, statement, error)
        self.observer.log("warning", f"{event.table} paused: its DDL waits for review ({event.ddl}); the other "
                                     "tables stream on")
        if event.position is not None:
            self._saved(event.position.to_json())

    def _poll_reviews(self) -> None:
        """Writer thread: act on a decision for a paused table, then end the run so the table is read again."""
        now = time.monotonic()
        if now < self._next_review_poll:
            return
        self._next_review_poll = now + 0.3
        assert self.reviews is not None
        for table, entry in self.reviews.waiting():
            position = entry["position"]
            decision = self.reviews.inbox.decision(table, position)
            if decision is None:
                continue
            if decision.action == APPLY:
                try:
                    run_statement(self.ddl_sink, decision.statement)
                except Exception as exc:  # noqa: BLE001  (reported to the inbox; the table stays paused)
                    self.reviews.inbox.done(table, position, f"{type(exc).__name__}: {exc}")
                    self.observer.log("error", f"reviewed DDL of {table} failed at the target: {exc}")
                    continue
                self.observer.log("info", f"applied reviewed DDL of {table}: {decision.statement}")
            else:
                self.observer.log("warning", f"ignored reviewed DDL of {table}: {entry['ddl']}")
            # The task runner records the decision, saves, and restarts the stream from the DDL's position.
            raise TableResumed(table, position, ignored=decision.action != APPLY)

    def _swapped_in(self, event: ChangeEvent) -> TableId | None:
        """A task table that a rename gave to a table the task did not stream (t_new TO t), if any."""
        assert event.table is not None
        names = {table.name for table in self.tables if table.database == event.table.database}
        for old, new in parse_statement(event.ddl or "").table_renames:
            if new in names and old not in names:
                return TableId(event.table.database, new)
        return None
