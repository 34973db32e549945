"""Runs one task spec to its end (schema, full) or until stopped (incremental streams).

The state kept in the checkpoint store is small: the phase, the position recorded before the
snapshot, the snapshot's chunks and which are done, and the stream position. Resuming reads
it and carries on; nothing done and checkpointed is done again except harmless replays.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol

from connectors.base import Sink, Source
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.pipeline.checkpoint import CheckpointStore
from connectors.pipeline.observer import NullObserver, Observer
from connectors.pipeline.partition import PartitionedWriter
from connectors.pipeline.review import DdlInbox, MemoryDdlInbox, Reviews, TableResumed
from connectors.pipeline.snapshot import SnapshotLoader
from connectors.pipeline.stream import StreamRunner, TableReplaced
from connectors.registry import sink_for, source_for
from connectors.spec import TableMapping, TaskSpec
from connectors.transform import Mapper, MappingError
from connectors.types import TableId, TableSchema


class NoPrimaryKey(ConnectorError):
    """A table without a primary key or NOT NULL unique key cannot be applied idempotently."""


class QuarantineLimitExceeded(ConnectorError):
    """More rows were quarantined than the task allows."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} rows quarantined, more than options.max_quarantine={limit}",
                         hint="fix the rows' cause (see the quarantine), raise the limit, or use dirty_data_policy "
                              "'fail'")


def endpoint_configs(spec: TaskSpec) -> tuple[ConnectionConfig, ConnectionConfig]:
    """The source and target connection configs with the task's options the connectors read."""
    options = spec.options
    source = dataclasses.replace(spec.source, options={
        **spec.source.options, "zero_date_policy": options.zero_date_policy, "server_id": options.server_id,
        "allow_no_primary_key": options.allow_no_primary_key, "heartbeat_interval": options.heartbeat_seconds})
    target = dataclasses.replace(spec.target, options={"task_name": spec.name, **spec.target.options,
                                                       "source_engine": spec.source.engine})
    return source, target


class SnapshotStage(Protocol):
    def run(self, schemas: dict[TableId, TableSchema], source: Source, tables: list[TableMapping]) -> bool: ...


class TaskRunner:
    """Runs a spec. `snapshot_stage` replaces the in-process chunk loader, e.g. with one that fans
    chunks out to other workers; it is called with this runner and returns the stage to run."""

    def __init__(self, spec: TaskSpec, store: CheckpointStore, observer: Observer | None = None,
                 stop: threading.Event | None = None,
                 source_factory: Callable[[ConnectionConfig], Source] = source_for,
                 sink_factory: Callable[[ConnectionConfig], Sink] = sink_for,
                 snapshot_stage: Callable[[TaskRunner], SnapshotStage] | None = None,
                 ddl_inbox: DdlInbox | None = None) -> None:
        self.spec = spec
        self.ddl_inbox: DdlInbox = ddl_inbox if ddl_inbox is not None else MemoryDdlInbox()
        self.store = store
        self.observer = observer or NullObserver()
        self.stop = stop or threading.Event()
        self.source_config, self.sink_config = endpoint_configs(spec)
        self._snapshot_stage = snapshot_stage
        self._source_factory = source_factory
        self._sink_factory = sink_factory
        # Held while the state is changed or saved: during a table join, a stream and a snapshot share it.
        self.state_lock = threading.RLock()
        self.quarantine_count = 0
        self.state: dict[str, Any] = {}
        # The mapping compiled per source schema: the snapshot and the stream apply the same plans.
        self.mapper = Mapper(spec.mapping, {m.source: m.target for m in spec.tables})

    def new_source(self) -> Source:
        return self._source_factory(self.source_config)

    def new_sink(self) -> Sink:
        return self._sink_factory(self.sink_config)

    def save(self) -> None:
        with self.state_lock:
            self.store.save(self.state)

    def run(self) -> str:
        """Run to the end of the mode, or until stop is set. Returns 'completed' or 'stopped'."""
        self.state = self.store.load() or {"phase": "new"}
        self.quarantine_count = int(self.state.get("quarantined", 0))
        source = self.new_source()
        try:
            streamed = (set(self.state.get("tables", [str(m.source) for m in self.spec.tables]))
                        if self.state["phase"] == "stream" else set())
            schemas = self._schemas(source, streamed)
            mode = self.spec.mode
            tables = list(self.spec.tables)
            if self.state["phase"] == "new":
                self._prepare_targets(schemas, tables)
                if mode == "schema":
                    return self._finish("completed")
                if mode == "full+incremental":
                    # Recorded before the first row is read: the stream starts here, so no change is lost.
                    self.state["start_position"] = source.current_position().to_json()
                self.state["phase"] = "snapshot" if mode in ("full", "full+incremental") else "stream"
                self.state["tables"] = [str(m.source) for m in tables]
                self.save()
            if self.state["phase"] == "snapshot":
                self.observer.phase("snapshot")
                if not self._snapshot_loader().run(schemas, source, tables):
                    return "stopped"
                self._finish_tables(schemas, tables)
                if mode == "full":
                    return self._finish("completed")
                self.state["phase"] = "stream"
                self.state.setdefault("position", self.state["start_position"])
                self.state["tables"] = [str(m.source) for m in tables]
                self.save()
            while self.state["phase"] == "stream":
                joined = set(self.state.setdefault("tables", [str(m.source) for m in tables]))
                new = [m for m in tables if str(m.source) not in joined]
                if new and not self._join(new, schemas, source):
                    return "stopped"
                self.observer.phase("stream")
                try:
                    self._stream(source, tables, self.stop)
                except TableReplaced as replaced:
                    # The stream saved the position after the swap; copy the new table, then stream on.
                    self._forget(str(replaced.table))
                    schemas = self._schemas(source, streamed=set(self.state["tables"]))
                    continue
                except TableResumed as resumed:
                    self._resume_reviewed(source, resumed)
                    continue
                return "stopped"
            return self.state["phase"]  # type: ignore[no-any-return]
        finally:
            source.close()

    def _finish(self, phase: str) -> str:
        self.state["phase"] = phase
        self.save()
        self.observer.phase(phase)
        return phase

    def _schemas(self, source: Source, streamed: set[str] | frozenset[str] = frozenset()
                 ) -> dict[TableId, TableSchema]:
        """Each table's schema, refusing tables without a key; `streamed` tables (already in the stream) may be gone."""
        schemas = {}
        for mapping in self.spec.tables:
            try:
                schema = source.table_schema(mapping.source)
            except ConnectorError as exc:
                if str(mapping.source) not in streamed:
                    raise
                # Dropped or renamed away at the source, and replayed so by the stream before this resume:
                # the stream goes on from its checkpoint and applies the table's return when it comes.
                self.observer.log("warning", f"cannot read the schema of {mapping.source} now, streaming on: {exc}")
                continue
            if not schema.key_columns:
                if not self.spec.options.allow_no_primary_key:
                    raise NoPrimaryKey(
                        f"table {mapping.source} has no primary key or NOT NULL unique key, so changes cannot be "
                        "applied by key", hint="add a primary key to the source table, leave the table out of the "
                        "task, or set options.allow_no_primary_key for append-only, at-least-once copying "
                        "(updates append the new row, deletes are skipped and counted)")
                self.observer.log("warning", f"{mapping.source} has no key: append-only, at least once")
            schemas[mapping.source] = schema
        return schemas

    def _forget(self, table: str) -> None:
        """Take a table out of the stream and its copy out of the state, so it joins again."""
        with self.state_lock:
            self.state["tables"] = [name for name in self.state["tables"] if name != table]
            self.state.setdefault("snapshot", {}).pop(table, None)
        self.save()

    def _snapshot_loader(self) -> SnapshotStage:
        if self._snapshot_stage is not None:
            return self._snapshot_stage(self)
        return SnapshotLoader(self.spec, self.new_source, self.new_sink, self.state, self.save, self.observer,
                              self.stop, self.on_dirty_callback(), lock=self.state_lock, mapper=self.mapper)

    def _join(self, new: list[TableMapping], schemas: dict[TableId, TableSchema], source: Source) -> bool:
        """Add tables to a streaming task while the others keep streaming.

        The new tables are copied while the joined ones stream on another thread; then the stream
        restarts with every table from the earlier of its own position and the position recorded
        before the copy began. From there every change of the new tables is applied over the copy,
        and the joined tables only replay changes they already have, which is harmless.
        """
        names = [str(m.source) for m in new]
        join = self.state.get("join")
        if not join or join["tables"] != names:
            self._prepare_targets(schemas, new)
            join = {"tables": names, "position": source.current_position().to_json()}
            with self.state_lock:
                self.state["join"] = join
                for name in names:
                    self.state.setdefault("snapshot", {}).pop(name, None)
            self.save()
        self.observer.log("info", f"joining {', '.join(names)}: copying while the other tables stream")
        joined = [m for m in self.spec.tables if str(m.source) in self.state["tables"]]
        stream_stop = threading.Event()
        failures: list[BaseException] = []

        def stream_joined() -> None:
            stream_source = self.new_source()
            try:
                while not stream_stop.is_set():
                    try:
                        self._stream(stream_source, joined, stream_stop)
                        break
                    except TableResumed as resumed:  # a reviewed DDL was decided meanwhile: stream on
                        self._resume_reviewed(stream_source, resumed)
            except BaseException as exc:  # noqa: BLE001  (raised below, in the calling thread)
                failures.append(exc)
            finally:
                stream_source.close()

        streamer = threading.Thread(target=stream_joined, name="join-stream", daemon=True)
        if joined:
            streamer.start()
        try:
            copied = self._snapshot_loader().run(schemas, source, new)
        finally:
            stream_stop.set()
            if joined:
                streamer.join()
        if failures:
            raise failures[0]
        if not copied:
            return False
        self._finish_tables(schemas, new)
        with self.state_lock:
            current = source.position_from_json(self.state["position"])
            before_copy = source.position_from_json(join["position"])
            self.state["position"] = min(current, before_copy).to_json()
            self.state["tables"] = self.state["tables"] + names
            del self.state["join"]
        self.save()
        self.observer.log("info", f"joined {', '.join(names)} to the stream")
        return True

    def _prepare_targets(self, schemas: dict[TableId, TableSchema], tables: list[TableMapping]) -> None:
        self.observer.phase("schema")
        # Secondary unique keys are built after a bulk load, which is faster than maintaining them row by row.
        defer = self.spec.mode in ("full", "full+incremental")
        sink = self.new_sink()
        try:
            # A shard joining a running task writes into a target the other shards already fill: keep it.
            others = {m.target for m in self.spec.tables if m not in tables}
            for schema, target in self._target_schemas(schemas, tables):
                if_exists = "keep" if target in others else self.spec.options.if_exists
                sink.prepare(schema, target, if_exists=if_exists, defer_indexes=defer)
                if not defer:
                    sink.finish_table(schema, target)
        finally:
            sink.close()

    def _target_schemas(self, schemas: dict[TableId, TableSchema], tables: list[TableMapping]
                        ) -> list[tuple[TableSchema, TableId]]:
        """Each target table once, with its schema after the mapping; shards merged into one must agree."""
        seen: dict[TableId, tuple[TableMapping, TableSchema]] = {}
        for mapping in tables:
            schema = self.mapper.plan(schemas[mapping.source]).target_schema
            earlier = seen.get(mapping.target)
            if earlier is None:
                seen[mapping.target] = (mapping, schema)
            elif (earlier[1].columns, earlier[1].key_columns) != (schema.columns, schema.key_columns):
                raise MappingError(
                    "mapping.routes", f"{mapping.source} and {earlier[0].source} are merged into {mapping.target} but "
                    "their columns or keys differ", hint="give the shards the same structure, or map them apart")
        return [(schema, target) for target, (_, schema) in seen.items()]

    def _finish_tables(self, schemas: dict[TableId, TableSchema], tables: list[TableMapping]) -> None:
        """Build what prepare deferred (idempotent, so a resume may run it again)."""
        sink = self.new_sink()
        try:
            for schema, target in self._target_schemas(schemas, tables):
                sink.finish_table(schema, target)
        finally:
            sink.close()

    def _stream(self, source: Source, tables: list[TableMapping], stop: threading.Event) -> None:
        if "position" in self.state:
            start = source.position_from_json(self.state["position"])
        elif self.spec.options.start_position:
            start = source.position_from_json(self.spec.options.start_position)
        else:
            start = source.current_position()
        with self.state_lock:
            self.state["position"] = start.to_json()
        self.save()
        writer = PartitionedWriter(self.new_sink, self.spec.options.parallelism)
        ddl_sink = self.new_sink()
        spec = dataclasses.replace(self.spec, tables=tuple(tables))
        try:
            StreamRunner(spec, source, writer, ddl_sink, self._save_position, self.observer, stop,
                         self.on_dirty_callback(), mapper=self.mapper, reviews=self._reviews(source)).run(start)
        finally:
            writer.close()
            ddl_sink.close()

    def _reviews(self, source: Source) -> Reviews | None:
        if self.spec.options.ddl_policy != "review":
            return None
        return Reviews(self.state, self.state_lock, self.ddl_inbox, source.position_from_json)

    def _resume_reviewed(self, source: Source, resumed: TableResumed) -> None:
        """A reviewed DDL was applied or ignored: stream again from the DDL so the table's changes since are read."""
        reviews = self._reviews(source)
        assert reviews is not None
        reviews.resume(resumed.table, resumed.position, resumed.ignored)
        with self.state_lock:
            current = source.position_from_json(self.state["position"])
            self.state["position"] = min(current, source.position_from_json(resumed.position)).to_json()
        self.save()
        self.ddl_inbox.done(resumed.table, resumed.position)
        self.observer.log("info", f"{resumed.table} resumed after its DDL review")

    def _save_position(self, position: dict[str, Any]) -> None:
        with self.state_lock:
            self.state["position"] = position
            self.state["quarantined"] = self.quarantine_count
            self.store.save(self.state)

    def on_dirty_callback(self) -> Callable[[Any], None] | None:
        if self.spec.options.dirty_data_policy != "quarantine":
            return None

        def on_dirty(row: Any) -> None:
            with self.state_lock:
                self.quarantine_count += 1
                count = self.quarantine_count
                self.state["quarantined"] = count  # saved with the next checkpoint, snapshot chunks included
            store_row = getattr(self.observer, "quarantined_row", None)
            if store_row is not None:  # an observer that keeps the whole row (stage, target) for replay
                store_row(row)
            else:
                self.observer.quarantined(row.table, row.key, row.row, row.column, row.error, row.position)
            if count > self.spec.options.max_quarantine:
                raise QuarantineLimitExceeded(count, self.spec.options.max_quarantine)

        return on_dirty
