"""Replaying quarantined rows (maybe edited by an operator) to the target through the sink's write.

A row the target rejected ("target" stage) is written as stored: it is already in the target's
shape. A row a mapping rule failed on ("transform" stage) goes through the table's plan first,
exactly as the pipeline would have sent it. Each row is written in its own transaction, so one
row that fails again does not hold back the others; its error is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Batch, Sink, Source, TableBatch
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.pipeline.task import endpoint_configs
from connectors.quarantine import DirtyRowError, QuarantinedRow, from_jsonable
from connectors.spec import TaskSpec
from connectors.transform import Mapper, TablePlan, TransformError
from connectors.types import TableId, TableSchema


@dataclass(frozen=True)
class ReplayRow:
    id: int
    table: str  # the source table, "db.name"
    row: dict[str, Any]  # column -> JSON-safe value (connectors.quarantine.jsonable)
    stage: str = "target"


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[int]
    failed: list[tuple[int, str]]


def replay(spec: TaskSpec, rows: Sequence[ReplayRow], source_factory: Callable[[ConnectionConfig], Source],
           sink_factory: Callable[[ConnectionConfig], Sink]) -> ReplayResult:
    source_config, sink_config = endpoint_configs(spec)
    mapper = Mapper(spec.mapping, {m.source: m.target for m in spec.tables})
    plans: dict[str, TablePlan] = {}
    replayed: list[int] = []
    failed: list[tuple[int, str]] = []
    source, sink = source_factory(source_config), sink_factory(sink_config)
    try:
        for item in rows:
            try:
                plan = plans.get(item.table)
                if plan is None:
                    table = TableId.parse(item.table)
                    if table not in mapper.targets:
                        raise ConnectorError(f"{item.table} is no longer one of the task's tables")
                    plan = plans[item.table] = mapper.plan(source.table_schema(table))
                _write(sink, plan, item)
            except (ConnectorError, ValueError) as exc:
                failed.append((item.id, str(exc)))
            else:
                replayed.append(item.id)
    finally:
        source.close()
        sink.close()
    return ReplayResult(replayed, failed)


def _values(schema: TableSchema, row: dict[str, Any], what: str) -> tuple[Any, ...]:
    missing = [name for name in schema.column_names if name not in row]
    if missing:
        raise ValueError(f"the {what} row has no column {missing[0]!r} (the table has "
                         f"{', '.join(schema.column_names)}); edit the row to add it")
    return tuple(from_jsonable(row[column.name], column) for column in schema.columns)


def _write(sink: Sink, plan: TablePlan, item: ReplayRow) -> None:
    schema = plan.target_schema
    if item.stage == "transform":
        try:
            out = plan.row(_values(plan.source_schema, item.row, "source"))
        except TransformError as exc:
            raise ValueError(str(exc)) from None
        if out is None:
            raise ValueError("the table's filter leaves this row out; edit it or discard it")
    else:
        out = _values(schema, item.row, "target")
    entry = TableBatch(schema, plan.target)
    if schema.key_columns:
        entry.upserts[tuple(out[i] for i in schema.key_indexes())] = out
    else:
        entry.appends.append(out)
    rejected: list[QuarantinedRow] = []
    try:
        sink.write(Batch({schema.table: entry}), on_dirty=rejected.append)  # type: ignore[call-arg]
    except DirtyRowError as exc:
        raise ValueError(str(exc)) from None
    if rejected:
        first = rejected[0]
        where = f"column {first.column!r}: " if first.column else ""
        raise ValueError(f"the target rejected the row again, {where}{first.error}")
