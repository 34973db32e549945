"""The work behind the compare jobs: plan a run's chunks, compare one chunk, finish a run, repair.

Chunks are rows in the database (CompareChunk): any worker on the 'compare' queue may take one; a
chunk whose worker died (no live lease) goes back to pending and is queued again, so a run resumes
chunk by chunk. The last chunk to finish triggers the run's end: differences found in different
ranges are paired up, a live task's differences are re-checked after its checkpoint has passed the
source head, counts are stored and the monitor is told.

A compare attached to a sync task compares every table through the task's mapping (renames, left-out
columns, filters, transforms, routes; see connectors.compare.mapped), in planning, chunks, re-checks
and repairs alike.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.base import Chunk
from connectors.compare.options import CompareOptions
from connectors.compare.repair import repair, repair_sql
from connectors.compare.run import close_compare, open_compare, task_mapper
from connectors.compare.table_compare import Difference, TableCompare, recheck
from connectors.config import ConnectionConfig
from connectors.errors import is_transient
from connectors.keys import key_from_json, key_to_json
from connectors.spec import TableMapping
from connectors.transform.plan import Mapper
from connectors.types import TableId
from dts.compare.lag import settle_for
from dts.compare.models import CompareChunk, CompareRun, CompareTask, DiffRecord, RepairRun, RunStatus
from dts.sync.lease import TaskLease, redis_client

log = logging.getLogger("dts.compare")
MAX_TRANSIENT_ATTEMPTS = 5
ChunkStatus = CompareChunk.Status


class ChunkLease(TaskLease):
    """Held while a worker compares a chunk: a running chunk without it belongs to a dead worker."""

    def __init__(self, chunk_id: int) -> None:
        super().__init__(chunk_id)
        self.key = chunk_lease_key(chunk_id)


def chunk_lease_key(chunk_id: int) -> str:
    return f"dts:lease:compare-chunk:{chunk_id}"


class FinishLease(TaskLease):
    """Held while a worker finishes a run (pair up, re-check, count, alert), renewed while it lives:
    a finisher that died lets go within the lease's TTL, and the minute tick hands the run to another."""

    def __init__(self, run_id: int) -> None:
        super().__init__(run_id)
        self.key = finish_lease_key(run_id)


def finish_lease_key(run_id: int) -> str:
    return f"dts:lease:compare-finish:{run_id}"


def options_for(task: CompareTask) -> CompareOptions:
    return CompareOptions.from_json({**(task.options or {}), "mode": task.mode, "sample_percent": task.sample_percent,
                                     "zero_date_policy": task.zero_date_policy()})


def configs_for(task: CompareTask) -> tuple[ConnectionConfig, ConnectionConfig]:
    return task.source.connection_config(), task.target.connection_config()


def mapper_for(task: CompareTask) -> Mapper | None:
    """The sync task's mapping, when the compare is attached to one: rows are compared as they land."""
    spec = task.sync_spec()
    return task_mapper(spec) if spec is not None else None


def _mapping(chunk: CompareChunk) -> TableMapping:
    return TableMapping(TableId.parse(chunk.source_table), TableId.parse(chunk.target_table))


def _enqueue_chunk(chunk_id: int) -> None:
    from dts.compare.jobs import compare_chunk

    compare_chunk.apply_async(args=[chunk_id], queue="compare")


def _enqueue_chunks(ids: list[int]) -> None:
    for chunk_id in ids:
        _enqueue_chunk(chunk_id)


# -- planning ------------------------------------------------------------------------------------------

def plan_run(run_id: int) -> None:
    run = CompareRun.objects.select_related("compare_task__source", "compare_task__target",
                                            "compare_task__sync_task").get(pk=run_id)
    if not run.mark_running():
        return  # stopped before it started, or a duplicate message
    task = run.compare_task
    try:
        options = options_for(task)
        source, target = configs_for(task)
        mapper = mapper_for(task)
        chunks: list[CompareChunk] = []
        rows_total = 0
        for mapping in task.mappings():
            compare = open_compare(source, target, mapping, options, mapper)
            try:
                planned = compare.plan()
                picked = compare.sample(planned, run.seed)
                estimate = compare.source.estimate_rows(mapping.source)
                rows_total += round(estimate * len(picked) / max(1, len(planned)))
            finally:
                close_compare(compare)
            chunks += [CompareChunk(run=run, source_table=str(mapping.source), target_table=str(mapping.target),
                                    index=c.index, bounds=c.to_json()) for c in picked]
        with transaction.atomic():
            CompareChunk.objects.bulk_create(chunks)
            CompareRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks), rows_total=rows_total)
            ids = list(CompareChunk.objects.filter(run=run).values_list("pk", flat=True))
            transaction.on_commit(lambda: _enqueue_chunks(ids))
    except Exception as exc:
        log.exception("compare run %s: planning failed", run.pk)
        run.mark_failed(str(exc))
        return
    if not chunks:
        finish_run(run.pk)


# -- one chunk -----------------------------------------------------------------------------------------

def run_chunk(chunk_id: int) -> None:
    chunk = CompareChunk.objects.select_related("run__compare_task__source", "run__compare_task__target").get(
        pk=chunk_id)
    if chunk.run.status != RunStatus.RUNNING or chunk.status in (ChunkStatus.DONE, ChunkStatus.FAILED):
        return
    lease = ChunkLease(chunk.pk)
    if not lease.acquire():
        return  # another worker has it
    stop = _keep_alive(lease)
    try:
        claimed = CompareChunk.objects.filter(pk=chunk.pk, status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING]
                                              ).update(status=ChunkStatus.RUNNING, started_at=timezone.now(),
                                                       attempts=F("attempts") + 1)
        if not claimed:
            return
        _compare_chunk(chunk)
    except Exception as exc:
        chunk.refresh_from_db(fields=["attempts"])
        if is_transient(exc) and chunk.attempts < MAX_TRANSIENT_ATTEMPTS:
            log.warning("%s: %s; it will be queued again", chunk, exc)
            CompareChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.PENDING, error=str(exc))
            transaction.on_commit(lambda: _enqueue_chunk(chunk.pk))
            return
        log.exception("%s failed", chunk)
        CompareChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.FAILED, error=str(exc),
                                                        finished_at=timezone.now())
        CompareRun.objects.get(pk=chunk.run_id).mark_failed(f"{chunk.source_table} chunk {chunk.index}: {exc}")
        return
    finally:
        stop.set()
        lease.release()
    finish_run(chunk.run_id)


def _renew(lease: TaskLease, stop: threading.Event) -> None:
    interval = max(0.2, lease.ttl_ms / 3000)
    while not stop.wait(interval):
        if not lease.renew():
            return


def _keep_alive(lease: TaskLease) -> threading.Event:
    """Renew the lease in the background until the returned event is set."""
    stop = threading.Event()
    threading.Thread(target=_renew, args=(lease, stop), name=f"{lease.key}-renew", daemon=True).start()
    return stop


def _compare_chunk(chunk: CompareChunk) -> None:
    task = chunk.run.compare_task
    source, target = configs_for(task)
    options = options_for(task)
    compare = open_compare(source, target, _mapping(chunk), options, mapper_for(task))
    try:
        outcome = compare.compare_chunk(Chunk.from_json(chunk.bounds))
        records = [_record(chunk.run, compare, d, chunk) for d in outcome.differences]
    finally:
        close_compare(compare)
    with transaction.atomic():
        DiffRecord.objects.filter(chunk=chunk).delete()  # a chunk run again replaces what it found before
        DiffRecord.objects.bulk_create(records)
        CompareChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.DONE, source_rows=outcome.source_rows,
                                                        target_rows=outcome.target_rows, method=outcome.method,
                                                        error="", finished_at=timezone.now())
        CompareRun.objects.filter(pk=chunk.run_id).update(chunks_done=F("chunks_done") + 1,
                                                          rows_done=F("rows_done") + outcome.source_rows)


def _record(run: CompareRun, compare: TableCompare, d: Difference, chunk: CompareChunk | None) -> DiffRecord:
    return DiffRecord(run=run, chunk=chunk, table=str(compare.mapping.target), source_table=str(compare.mapping.source),
                      key=compare.key_json(d.key), key_values=key_to_json(d.key), kind=d.kind,
                      columns=list(d.columns), source_row=compare.row_json(d.source_row),
                      target_row=compare.row_json(d.target_row))


def recover_orphans(run: CompareRun) -> int:
    """Queue again the chunks of a running run whose worker died (running, no lease) or were never taken."""
    client = redis_client()
    requeued = 0
    for chunk in run.chunks.filter(status=ChunkStatus.RUNNING):
        if not client.exists(chunk_lease_key(chunk.pk)):
            if CompareChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING).update(status=ChunkStatus.PENDING):
                _enqueue_chunk(chunk.pk)
                requeued += 1
    return requeued


def recover_finish(run: CompareRun) -> bool:
    """Queue the end of a running run whose chunks are all done but that nobody is finishing (its
    finisher died, or died before it began): True when queued."""
    # chunks_total is set in the transaction that creates the chunks: 0 while the run is being planned.
    if run.status != RunStatus.RUNNING or run.chunks_total == 0 or \
            run.chunks.exclude(status=ChunkStatus.DONE).exists():
        return False
    if redis_client().exists(finish_lease_key(run.pk)):
        return False  # a live worker is finishing it
    from dts.compare.jobs import finish_run as finish_job

    finish_job.apply_async(args=[run.pk], queue="compare")
    return True


# -- the end of a run ----------------------------------------------------------------------------------

def finish_run(run_id: int) -> None:
    """When every chunk is done: pair up, re-check (live tasks), count, complete, alert. Runs once."""
    run = CompareRun.objects.select_related("compare_task__source", "compare_task__target",
                                            "compare_task__sync_task").get(pk=run_id)
    if run.status != RunStatus.RUNNING or run.chunks.exclude(status=ChunkStatus.DONE).exists():
        return
    lease = FinishLease(run.pk)
    if not lease.acquire():
        return  # another worker is finishing it
    stop = _keep_alive(lease)
    try:
        run.refresh_from_db(fields=["status"])
        if run.status == RunStatus.RUNNING:  # not finished by a worker that held the lease a moment ago
            _finish(run)
    finally:
        stop.set()
        lease.release()


def _finish(run: CompareRun) -> None:
    task = run.compare_task
    try:
        source, target = configs_for(task)
        options = options_for(task)
        settle = settle_for(task.sync_task) if task.sync_task is not None else None
        mapper = mapper_for(task)
        for table, records in _records_by_table(run).items():
            compare = open_compare(source, target, table, options, mapper)
            try:
                differences = [Difference(tuple(key_from_json(r.key_values) or ()), r.kind, tuple(r.columns))
                               for r in records]
                final = compare.reconcile(differences)
                if settle is not None and final:
                    final = recheck(compare, final, settle)
                _replace(run, compare, records, final)
            finally:
                close_compare(compare)
        counts = {kind: run.diffs.filter(kind=kind).count() for kind in ("missing", "extra", "different")}
        if options.mode == "count":
            counts = _count_mode_counts(run)
        run.mark_completed(counts)
    except Exception as exc:
        log.exception("compare run %s: finishing failed", run.pk)
        run.mark_failed(str(exc))
    from dts.monitor.compare_alerts import report_compare_run

    report_compare_run(run)


def _records_by_table(run: CompareRun) -> dict[TableMapping, list[DiffRecord]]:
    grouped: dict[TableMapping, list[DiffRecord]] = defaultdict(list)
    for record in run.diffs.all():
        grouped[TableMapping(TableId.parse(record.source_table), TableId.parse(record.table))].append(record)
    return grouped


def _replace(run: CompareRun, compare: TableCompare, records: list[DiffRecord], final: list[Difference]) -> None:
    """Keep the records still reported as they were; drop the rest; add what re-checks found anew."""
    def identity(key: Any, kind: str, columns: Any) -> tuple[str, str, tuple[str, ...]]:
        return repr(tuple(key)), kind, tuple(columns)

    existing = {identity(key_from_json(r.key_values) or (), r.kind, r.columns): r for r in records}
    kept: set[int] = set()
    new: list[DiffRecord] = []
    for difference in final:
        record = existing.get(identity(difference.key, difference.kind, difference.columns))
        if record is not None and record.pk not in kept:
            kept.add(record.pk)
        else:
            new.append(_record(run, compare, difference, None))
    stale = [r.pk for r in records if r.pk not in kept]
    if stale or new:
        with transaction.atomic():
            DiffRecord.objects.filter(pk__in=stale).delete()
            DiffRecord.objects.bulk_create(new)


def _count_mode_counts(run: CompareRun) -> dict[str, int]:
    """Count mode sees no keys: per chunk, rows the target lacks or has in excess."""
    missing = extra = 0
    for source_rows, target_rows in run.chunks.values_list("source_rows", "target_rows"):
        missing += max(0, source_rows - target_rows)
        extra += max(0, target_rows - source_rows)
    return {"missing": missing, "extra": extra, "different": 0}


# -- repair --------------------------------------------------------------------------------------------

def run_repair(repair_id: int) -> None:
    job = RepairRun.objects.select_related("compare_run__compare_task__source",
                                           "compare_run__compare_task__target").get(pk=repair_id)
    if job.status != RunStatus.QUEUED:
        return
    RepairRun.objects.filter(pk=job.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    task = job.compare_run.compare_task
    try:
        source, target = configs_for(task)
        options = options_for(task)
        records = list(job.records())
        grouped: dict[TableMapping, list[DiffRecord]] = defaultdict(list)
        for record in records:
            grouped[TableMapping(TableId.parse(record.source_table), TableId.parse(record.table))].append(record)
        totals: dict[str, Any] = {"requested": len(records), "repaired": 0, "failed": 0}
        texts: list[str] = []
        mapper = mapper_for(task)
        for mapping, table_records in grouped.items():
            keys = [tuple(key_from_json(r.key_values) or ()) for r in table_records]
            compare = open_compare(source, target, mapping, options, mapper)
            try:
                if job.apply:
                    outcome = repair(compare, keys, source, target)
                    left = {repr(d.key) for d in outcome.remaining}
                    fixed = [r.pk for r, k in zip(table_records, keys, strict=True)
                             if repr(compare.canonical_key(k)) not in left]
                    DiffRecord.objects.filter(pk__in=fixed).update(repaired=True)
                    totals["repaired"] += len(fixed)
                    totals["failed"] += len(table_records) - len(fixed)
                else:
                    texts.append(f"-- {mapping.source} -> {mapping.target}: {len(keys)} key(s)\n"
                                 + repair_sql(compare, keys).sql)
            finally:
                close_compare(compare)
        verified = (totals["failed"] == 0) if job.apply else None
        RepairRun.objects.filter(pk=job.pk).update(status=RunStatus.COMPLETED, finished_at=timezone.now(),
                                                   verified_clean=verified, sql="\n".join(texts), **totals)
    except Exception as exc:
        log.exception("repair %s failed", job.pk)
        RepairRun.objects.filter(pk=job.pk).update(status=RunStatus.FAILED, finished_at=timezone.now(),
                                                   error=str(exc))
