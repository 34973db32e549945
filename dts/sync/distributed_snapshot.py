"""The snapshot stage of a task run on the platform: chunks fan out to workers on the 'snapshot' queue.

The task's runner plans the chunks once (SnapshotChunk rows), keeps at most `parallelism` of
them queued or running, and waits. Any worker may load a chunk; a chunk whose worker died (its
lease expired) or whose message was lost is queued again, and a sink replaces a chunk's key
range in one transaction, so running a chunk twice leaves one copy.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from connectors.base import Source
from connectors.errors import ConnectorError
from connectors.pipeline.task import TaskRunner
from connectors.spec import TableMapping
from connectors.types import TableId, TableSchema
from dts.sync.chunk_lease import chunk_lease_held
from dts.sync.models import SnapshotChunk, SyncTask

log = logging.getLogger("dts.sync")
POLL_SECONDS = 0.5
# A queued chunk nobody started in this long has lost its message (e.g. a killed worker held it).
REQUEUE_AFTER = timedelta(seconds=60)
# A running chunk without a live lease for this long belongs to a dead worker.
ORPHAN_AFTER = timedelta(seconds=2)

Status = SnapshotChunk.Status


class SnapshotChunkFailed(ConnectorError):
    """A chunk failed for a reason retrying would not fix."""


class DistributedSnapshot:
    def __init__(self, task: SyncTask, runner: TaskRunner) -> None:
        self.task = task
        self.runner = runner
        self._reported: dict[str, tuple[int, int]] = {}

    def run(self, schemas: dict[TableId, TableSchema], source: Source, mappings: list[TableMapping]) -> bool:
        """Plan, fan out and wait. Returns False when the task was asked to stop first."""
        names = [str(mapping.source) for mapping in mappings]
        with self.runner.state_lock:
            tables = self.runner.state.setdefault("snapshot", {})
            for mapping, name in zip(mappings, names, strict=True):
                if tables.get(name, {}).get("finished"):
                    continue
                if name not in tables:
                    # Not planned in this state: chunks left over belong to an earlier copy (a table
                    # replaced by another, or a crash before the state was saved): plan afresh.
                    SnapshotChunk.objects.filter(task=self.task, source_table=name).delete()
                if not SnapshotChunk.objects.filter(task=self.task, source_table=name).exists():
                    chunks = source.snapshot_chunks(schemas[mapping.source], self.runner.spec.options.chunk_size)
                    SnapshotChunk.objects.bulk_create(
                        SnapshotChunk(task=self.task, source_table=name, index=c.index, bounds=c.to_json())
                        for c in chunks)
                tables[name] = {"finished": False, "distributed": True}
        self.runner.save()
        while not self.runner.stop.is_set():
            if self._step(names):
                with self.runner.state_lock:
                    for name in names:
                        tables[name]["finished"] = True
                self.runner.save()
                return True
            self.runner.stop.wait(POLL_SECONDS)
        return False

    def _step(self, names: list[str]) -> bool:
        chunks = SnapshotChunk.objects.filter(task=self.task, source_table__in=names)
        failed = chunks.filter(status=Status.FAILED).first()
        if failed is not None:
            raise SnapshotChunkFailed(f"snapshot of {failed.source_table} failed in chunk {failed.index}: "
                                      f"{failed.error}", hint="fix the cause, then resume the task")
        self._report(chunks)
        if not chunks.exclude(status=Status.DONE).exists():
            return True
        self._recover(chunks)
        in_flight = chunks.filter(status__in=[Status.QUEUED, Status.RUNNING]).count()
        free = self.runner.spec.options.parallelism - in_flight
        if free > 0:
            for chunk in chunks.filter(status=Status.PENDING).order_by("source_table", "index")[:free]:
                self._enqueue(chunk)
        return False

    def _recover(self, chunks: Any) -> None:
        now = timezone.now()
        for chunk in chunks.filter(status=Status.RUNNING, started_at__lt=now - ORPHAN_AFTER):
            if not chunk_lease_held(chunk.pk):
                log.warning("task %s: %s lost its worker; queuing it again", self.task.pk, chunk)
                SnapshotChunk.objects.filter(pk=chunk.pk, status=Status.RUNNING).update(status=Status.PENDING)
        stale = chunks.filter(status=Status.QUEUED, queued_at__lt=now - REQUEUE_AFTER)
        for chunk in stale:
            if not chunk_lease_held(chunk.pk):
                SnapshotChunk.objects.filter(pk=chunk.pk, status=Status.QUEUED).update(status=Status.PENDING)

    def _enqueue(self, chunk: SnapshotChunk) -> None:
        from dts.sync.jobs import run_snapshot_chunk

        updated = SnapshotChunk.objects.filter(pk=chunk.pk, status=Status.PENDING).update(
            status=Status.QUEUED, queued_at=timezone.now())
        if updated:
            run_snapshot_chunk.apply_async(args=[chunk.pk], queue="snapshot")

    def _report(self, chunks: Any) -> None:
        per_table = chunks.values("source_table").annotate(
            total=Count("id"), done=Count("id", filter=Q(status=Status.DONE)), rows=Sum("rows"))
        for row in per_table:
            seen = (row["done"], row["rows"] or 0)
            if self._reported.get(row["source_table"]) != seen:
                self._reported[row["source_table"]] = seen
                self.runner.observer.table_progress(TableId.parse(row["source_table"]), seen[1], None, seen[0],
                                                    row["total"])
