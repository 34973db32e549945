"""Loads one snapshot chunk on whichever worker took it from the 'snapshot' queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.utils import timezone

from connectors.base import Chunk
from connectors.errors import ConnectorError, is_transient
from connectors.keys import key_to_json
from connectors.pipeline.chunk_load import load_chunk
from connectors.pipeline.ratelimit import RateLimiter, throttled
from connectors.pipeline.task import QuarantineLimitExceeded, endpoint_configs
from connectors.registry import sink_for, source_for
from connectors.transform import Mapper
from dts.sync.chunk_lease import ChunkLease
from dts.sync.models import QuarantinedRow, SnapshotChunk
from dts.sync.specs import spec_for

log = logging.getLogger("dts.sync")
MAX_TRANSIENT_ATTEMPTS = 5
Status = SnapshotChunk.Status


class ChunkRunner:
    def __init__(self, chunk_id: int) -> None:
        self.chunk = SnapshotChunk.objects.select_related("task__source", "task__target").get(pk=chunk_id)

    def run(self) -> None:
        chunk = self.chunk
        if chunk.status in (Status.DONE, Status.FAILED):
            return  # a duplicate message
        lease = ChunkLease(chunk.pk)
        if not lease.acquire():
            return  # another worker is loading it
        stop = threading.Event()
        lease.keep_alive(stop)
        try:
            SnapshotChunk.objects.filter(pk=chunk.pk).update(status=Status.RUNNING, started_at=timezone.now(),
                                                             attempts=F("attempts") + 1)
            rows = self._load()
            SnapshotChunk.objects.filter(pk=chunk.pk).update(status=Status.DONE, rows=rows, error="",
                                                             finished_at=timezone.now())
        except Exception as exc:
            chunk.refresh_from_db(fields=["attempts"])
            if is_transient(exc) and chunk.attempts < MAX_TRANSIENT_ATTEMPTS:
                log.warning("%s: %s; it will be queued again", chunk, exc)
                SnapshotChunk.objects.filter(pk=chunk.pk).update(status=Status.PENDING, error=str(exc))
                return
            SnapshotChunk.objects.filter(pk=chunk.pk).update(status=Status.FAILED, error=str(exc),
                                                             finished_at=timezone.now())
            if not isinstance(exc, ConnectorError):
                raise
        finally:
            stop.set()
            lease.release()

    def _load(self) -> int:
        task = self.chunk.task
        spec = spec_for(task)
        mapping = next(m for m in spec.tables if str(m.source) == self.chunk.source_table)
        source_config, sink_config = endpoint_configs(spec)
        source, sink = source_for(source_config), sink_for(sink_config)
        try:
            schema = source.table_schema(mapping.source)
            chunk = Chunk.from_json(self.chunk.bounds)
            rows: Iterable[tuple[Any, ...]] = source.read_chunk(schema, chunk)
            if spec.options.rate_limit_rows:
                # The task's rate is shared by the chunks it runs at once.
                rows = throttled(rows, RateLimiter(max(1, spec.options.rate_limit_rows // spec.options.parallelism)))
            on_dirty = self._quarantine if spec.options.dirty_data_policy == "quarantine" else None
            self._max_quarantine = spec.options.max_quarantine
            # The task's mapping plan, as the in-process loader and the stream apply it.
            plan = Mapper(spec.mapping, {m.source: m.target for m in spec.tables}).plan(schema)
            return load_chunk(plan, sink, chunk, rows, on_dirty)
        finally:
            source.close()
            sink.close()

    def _quarantine(self, row: Any) -> None:
        task = self.chunk.task
        QuarantinedRow.objects.create(task=task, source_table=self.chunk.source_table,
                                      target_table=row.target or "", stage=row.stage,
                                      key=key_to_json(tuple(row.key)),
                                      row=row.row, column=row.column or "", error=row.error,
                                      position={"chunk": self.chunk.bounds})
        count = QuarantinedRow.objects.filter(task=task).count()
        if count > self._max_quarantine:
            raise QuarantineLimitExceeded(count, self._max_quarantine)
