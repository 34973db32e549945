"""The full load: tables split into primary-key chunks, loaded in parallel, each chunk resumable.

Chunk bounds are computed once and kept in the task state with the set of finished chunks, so
after a crash only unfinished chunks run again; a sink replaces a chunk's key range in one
transaction, so a chunk that ran halfway leaves no duplicates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from connectors.base import Chunk, Sink, Source
from connectors.pipeline.chunk_load import load_chunk
from connectors.pipeline.observer import Observer
from connectors.pipeline.ratelimit import RateLimiter, throttled
from connectors.spec import TableMapping, TaskSpec
from connectors.transform import Mapper
from connectors.types import TableSchema


class SnapshotLoader:
    def __init__(self, spec: TaskSpec, source_factory: Callable[[], Source], sink_factory: Callable[[], Sink],
                 state: dict[str, Any], save: Callable[[], None], observer: Observer,
                 stop: threading.Event, on_dirty: Callable[[Any], None] | None = None,
                 lock: threading.RLock | None = None, mapper: Mapper | None = None) -> None:
        self.spec = spec
        self.mapper = mapper or Mapper(spec.mapping, {m.source: m.target for m in spec.tables})
        self.source_factory = source_factory
        self.sink_factory = sink_factory
        self.state = state
        self.save = save
        self.observer = observer
        self.stop = stop
        self.on_dirty = on_dirty
        self._lock = lock or threading.RLock()  # guards the shared task state
        self._local = threading.local()
        self._opened: list[Source | Sink] = []
        self._limiter = RateLimiter(spec.options.rate_limit_rows)
        self._halt = threading.Event()  # a chunk failed: the others end early (the caller's stop is left alone)

    def run(self, schemas: dict[Any, TableSchema], source: Source, mappings: list[TableMapping]) -> bool:
        """Load every table of `mappings` not yet finished. Returns False when stopped before the end."""
        work: list[tuple[TableMapping, TableSchema, Chunk]] = []
        with self._lock:  # the stream of a table join may save the state meanwhile
            tables = self.state.setdefault("snapshot", {})
            for mapping in mappings:
                progress = tables.setdefault(str(mapping.source), {"done": [], "rows": 0, "finished": False})
                if progress["finished"]:
                    continue
                schema = schemas[mapping.source]
                if "chunks" not in progress:
                    chunks = list(source.snapshot_chunks(schema, self.spec.options.chunk_size))
                    progress["chunks"] = [chunk.to_json() for chunk in chunks]
                    progress["estimate"] = progress.get("estimate")
                    self.save()
                done = set(progress["done"])
                pending = [Chunk.from_json(c) for c in progress["chunks"] if c["index"] not in done]
                if not pending:
                    progress["finished"] = True
                    self.save()
                work.extend((mapping, schema, chunk) for chunk in pending)
        if not work:
            return True
        try:
            with ThreadPoolExecutor(max_workers=self.spec.options.parallelism, thread_name_prefix="snapshot") as pool:
                futures = [pool.submit(self._load, *item) for item in work]
                finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
                for future in finished:
                    if future.exception() is not None:
                        self._halt.set()  # let the other chunks end early; the error is raised below
                        raise future.exception()  # type: ignore[misc]
        finally:
            for opened in self._opened:
                opened.close()
        return not self.stop.is_set() and all(tables[str(m.source)]["finished"] for m in mappings)

    def _connections(self) -> tuple[Source, Sink]:
        if not hasattr(self._local, "source"):
            self._local.source, self._local.sink = self.source_factory(), self.sink_factory()
            with self._lock:
                self._opened.extend([self._local.source, self._local.sink])
        return self._local.source, self._local.sink

    def _load(self, mapping: TableMapping, schema: TableSchema, chunk: Chunk) -> None:
        if self.stop.is_set() or self._halt.is_set():
            return
        source, sink = self._connections()
        rows = source.read_chunk(schema, chunk)
        if self._limiter.rate:
            rows = throttled(rows, self._limiter)
        count = load_chunk(self.mapper.plan(schema), sink, chunk, rows, self.on_dirty)
        with self._lock:
            progress = self.state["snapshot"][str(mapping.source)]
            progress["done"].append(chunk.index)
            progress["rows"] += count
            total = len(progress["chunks"])
            progress["finished"] = len(progress["done"]) == total
            self.save()
            self.observer.table_progress(mapping.source, progress["rows"], progress.get("estimate"),
                                         len(progress["done"]), total)
