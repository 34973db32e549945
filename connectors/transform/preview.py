"""Preview: a few rows of each table read from the real source and shown as they would land at the target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import Source
from connectors.config import ConnectionConfig
from connectors.quarantine import jsonable
from connectors.spec import TaskSpec
from connectors.transform.plan import Mapper, TransformError
from connectors.types import CanonicalType, TableSchema

SCANNED_PER_SHOWN = 50  # rows read per row shown, at most, when a filter leaves most rows out


def preview(spec: TaskSpec, source_factory: Callable[[ConnectionConfig], Source], rows: int = 5) -> dict[str, Any]:
    """{"tables": [{source, target, target_schema, rows, filtered_out, errors}]}.

    Raises MappingError (with the rule's path) when a rule does not fit a table, and ConnectorError when
    the source cannot be read.
    """
    mapper = Mapper(spec.mapping, {m.source: m.target for m in spec.tables})
    source = source_factory(spec.source)
    tables = []
    try:
        for mapping in spec.tables:
            schema = source.table_schema(mapping.source)
            plan = mapper.plan(schema)
            shown: list[dict[str, Any]] = []
            errors: list[dict[str, Any]] = []
            filtered = scanned = 0
            names = plan.target_schema.column_names
            for row in _sample(source, schema, rows * SCANNED_PER_SHOWN):
                scanned += 1
                try:
                    out = plan.row(row)
                except TransformError as exc:
                    errors.append({"row": dict(zip(schema.column_names, map(jsonable, row), strict=True)),
                                   "column": exc.column, "error": str(exc)})
                    continue
                if out is None:
                    filtered += 1
                    continue
                shown.append(dict(zip(names, map(jsonable, out), strict=True)))
                if len(shown) >= rows:
                    break
            tables.append({"source": str(mapping.source), "target": str(mapping.target),
                           "target_schema": describe(plan.target_schema), "rows": shown, "filtered_out": filtered,
                           "scanned": scanned, "errors": errors})
    finally:
        source.close()
    return {"tables": tables}


def _sample(source: Source, schema: TableSchema, limit: int) -> Any:
    """Up to `limit` rows from the start of the table, in key order."""
    count = 0
    for chunk in source.snapshot_chunks(schema, max(limit, 1)):
        for row in source.read_chunk(schema, chunk):
            yield row
            count += 1
            if count >= limit:
                return
        return  # the first chunk holds `limit` rows at most


def describe(schema: TableSchema) -> list[dict[str, Any]]:
    key = set(schema.key_columns)
    return [{"name": column.name, "type": type_text(column.type), "nullable": column.nullable,
             "primary_key": column.name in key} for column in schema.columns]


def type_text(column_type: CanonicalType) -> str:
    """The canonical type as text, e.g. string(64), decimal(12,2), int64 unsigned, timestamp(6)."""
    kind = column_type.kind.value
    if column_type.bits:
        kind += str(column_type.bits)
    params = []
    if column_type.precision is not None:
        params = [str(column_type.precision)] + ([str(column_type.scale)] if column_type.scale is not None else [])
    elif column_type.length is not None:
        params = [str(column_type.length)]
    elif column_type.fsp:
        params = [str(column_type.fsp)]
    text = f"{kind}({','.join(params)})" if params else kind
    return text + (" unsigned" if column_type.unsigned else "")
