"""A whole compare in one process: every table, chunks spread over threads, then reconcile and re-check.

The control plane fans chunks out to Celery workers instead (dts.compare); this is what the CLI,
the tests of the data plane and the W4 benchmark run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from connectors.base import Chunk
from connectors.config import ConnectionConfig
from connectors.spec import TableMapping, TaskSpec
from connectors.transform.plan import Mapper

from .endpoints import endpoint_for
from .options import CompareOptions
from .table_compare import ChunkOutcome, Difference, TableCompare, recheck


@dataclass
class TableReport:
    mapping: TableMapping
    chunks_total: int = 0
    chunks_done: int = 0
    source_rows: int = 0
    target_rows: int = 0
    method: str = ""
    differences: list[Difference] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {"missing": 0, "extra": 0, "different": 0}
        for d in self.differences:
            counts[d.kind] += 1
        return counts


def open_compare(source: ConnectionConfig, target: ConnectionConfig, mapping: TableMapping,
                 options: CompareOptions, mapper: Mapper | None = None) -> TableCompare:
    policy = options.zero_date_policy
    return TableCompare(endpoint_for(source, zero_date_policy=policy), endpoint_for(target, zero_date_policy=policy),
                        mapping, options, mapper=mapper)


def task_mapper(spec: TaskSpec) -> Mapper:
    """The sync task's mapping compiled as the pipeline compiles it (targets: every table of the task,
    so shards merged into one target are known as such)."""
    return Mapper(spec.mapping, {m.source: m.target for m in spec.tables})


def close_compare(compare: TableCompare) -> None:
    compare.close()
    compare.source.close()
    compare.target.close()


def compare_tables(source: ConnectionConfig, target: ConnectionConfig, mappings: Sequence[TableMapping],
                   options: CompareOptions, *, parallelism: int = 2, seed: int = 0,
                   settle: Callable[[], None] | None = None,
                   mapper: Mapper | None = None) -> list[TableReport]:
    """Compare every mapping; with settle (a live task), re-check differences after the task caught up;
    with mapper (a sync task's mapping, see task_mapper), compare rows as the task lands them."""
    reports = []
    for mapping in mappings:
        planner = open_compare(source, target, mapping, options, mapper)
        try:
            chunks = planner.sample(planner.plan(), seed)
            report = TableReport(mapping, chunks_total=len(chunks))
            report.method = "count" if options.mode == "count" else ("sql" if planner.use_sql else "rows")
            outcomes = _run_chunks(source, target, mapping, options, mapper, chunks, parallelism)
            for outcome in outcomes:
                report.chunks_done += 1
                report.source_rows += outcome.source_rows
                report.target_rows += outcome.target_rows
                report.differences += outcome.differences
            report.differences = planner.reconcile(report.differences)
            if settle is not None and report.differences:
                report.differences = recheck(planner, report.differences, settle)
        finally:
            close_compare(planner)
        reports.append(report)
    return reports


def _run_chunks(source: ConnectionConfig, target: ConnectionConfig, mapping: TableMapping, options: CompareOptions,
                mapper: Mapper | None, chunks: list[Chunk], parallelism: int) -> list[ChunkOutcome]:
    local = threading.local()
    opened: list[TableCompare] = []
    lock = threading.Lock()
    # The rate limit is the run's: shared out among the threads, as the sync engine does.
    per_thread = CompareOptions(**{**options.to_json(),
                                   "rate_limit_rows": options.rate_limit_rows // max(1, parallelism)
                                   if options.rate_limit_rows else 0})

    def one(chunk: Chunk) -> ChunkOutcome:
        compare = getattr(local, "compare", None)
        if compare is None:
            compare = local.compare = open_compare(source, target, mapping, per_thread, mapper)
            with lock:
                opened.append(compare)
        return compare.compare_chunk(chunk)

    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="compare") as pool:
            return list(pool.map(one, chunks))
    finally:
        for compare in opened:
            close_compare(compare)
