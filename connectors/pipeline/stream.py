"""The change stream: read on one thread, merge into batches at transaction boundaries, write on another.

The reader hands complete batches through a small queue, so reading the next batch overlaps
writing the current one. A batch ends at a source commit once it is big or old enough; only
that commit's position is checkpointed, after every partition of the batch has committed
(invariant 1). DDL is a barrier: the batch before it is written first, then the DDL is
handled by policy, in stream order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from connectors.base import Sink, Source
from connectors.errors import ConnectorError
from connectors.events import COMMIT, DDL, HEARTBEAT, ROW_OPS, ChangeEvent, Position
from connectors.pipeline.merge import BatchBuilder
from connectors.pipeline.observer import Observer
from connectors.pipeline.partition import PartitionedWriter
from connectors.pipeline.ratelimit import RateLimiter
from connectors.spec import TaskSpec
from connectors.types import TableId

# A transaction bigger than this many batches is written in parts (without checkpointing
# inside it) so memory stays bounded; replays from the previous commit are harmless.
OVERSIZED_TRANSACTION_BATCHES = 4
IDLE_CHECKPOINT_SECONDS = 2.0


class DdlRefused(ConnectorError):
    """The task's DDL policy is 'fail' and the source changed a table's structure."""


class StreamRunner:
    def __init__(self, spec: TaskSpec, source: Source, writer: PartitionedWriter, ddl_sink: Sink,
                 save_position: Callable[[dict[str, Any]], None], observer: Observer, stop: threading.Event,
                 on_dirty: Callable[[Any], None] | None = None) -> None:
        self.spec = spec
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
        builder = BatchBuilder(self.spec.target_of)
        limiter = RateLimiter(options.rate_limit_rows)
        in_transaction = False
        last_idle_checkpoint = 0.0
        for event in self.source.changes(start, self.tables):
            op = event.op
            if op in ROW_OPS:
                if event.table not in self.tables:
                    continue
                if limiter.rate:
                    limiter.acquire(1)
                if builder.schema_changed(event):
                    self._flush(builder)
                builder.add(event)
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
                if event.table in self.tables or self._is_new_selected_table(event.table):
                    self._flush(builder)
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

    def _is_new_selected_table(self, table: TableId | None) -> bool:
        return False  # new tables join a task by editing it (snapshot, then stream), not implicitly

    def _aged(self, builder: BatchBuilder) -> bool:
        return time.monotonic() - builder.started >= self.spec.options.flush_interval

    def _flush(self, builder: BatchBuilder) -> None:
        self._put(("batch", builder.take()))

    # --- writer (calling) thread ----------------------------------------------------------------
    def _write_loop(self) -> None:
        kwargs = {"on_dirty": self.on_dirty} if self.on_dirty is not None else {}
        while True:
            try:
                kind, payload = self._handoff.get(timeout=1.0)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise payload
            if kind == "batch":
                batch, position, commit_time, events = payload
                self.writer.write(batch, **kwargs)
                position_json = position.to_json() if position is not None else None
                if position_json is not None:
                    self.save_position(position_json)
                self.observer.applied(events, batch.row_count, position_json, commit_time)
            elif kind == "ddl":
                self._handle_ddl(payload)

    def _handle_ddl(self, event: ChangeEvent) -> None:
        policy = self.spec.options.ddl_policy
        where = f"{event.table}: {event.ddl}"
        if policy == "fail":
            raise DdlRefused(f"the source changed {where}",
                             hint="apply it to the target by hand and resume, or set options.ddl_policy to "
                                  "'apply' or 'ignore'")
        if policy == "apply":
            assert event.table is not None
            self.ddl_sink.apply_ddl(event, self.spec.target_of(event.table))
            self.observer.log("info", f"applied DDL from {where}")
        else:
            self.observer.log("warning", f"ignored DDL (policy 'ignore') from {where}")
        if event.position is not None:
            self.save_position(event.position.to_json())
