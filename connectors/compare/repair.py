"""Repair: re-read differing keys from the source and write them through the sync engine's sink.

A key that exists at the source is upserted with the source's current row; a key the source no
longer has is deleted. The write goes through the target's Sink.write (one transaction, by key),
never through SQL built here. Afterwards the keys are compared again (re-verify).

A table compared through a sync task's mapping is repaired with the row as the task lands it
(the plan's transform: renamed, masked, with its shard column); a source row the task's filter
leaves out is deleted at the target. Under a logical delete the sync flags rows instead of
deleting them; a repair will not delete them either: it refuses and names the keys.

For DBAs who approve changes first, ``repair_sql`` renders the same upserts and deletes as SQL
text in the target's dialect: identifiers quoted and values written as literals by the target's
own functions (MySQL: the sink's literal encoders; PostgreSQL: psycopg.sql.Literal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from connectors.base import Batch, TableBatch
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.mysql.connection import quote_ident
from connectors.mysql.sink import literal as mysql_literal
from connectors.postgresql.values import column_converter
from connectors.registry import sink_for
from connectors.types import ColumnSchema, Kind, TableId, TableSchema

from .postgres_endpoint import PostgresEndpoint
from .table_compare import Difference, TableCompare

Key = tuple[Any, ...]


@dataclass
class RepairOutcome:
    requested: int
    upserts: int = 0
    deletes: int = 0
    remaining: list[Difference] = field(default_factory=list)  # still different after the write
    sql: str = ""

    @property
    def repaired(self) -> int:
        return self.requested - len(self.remaining)

    @property
    def verified_clean(self) -> bool:
        return not self.remaining


def _sink_values(columns: Sequence[ColumnSchema], row: Sequence[Any]) -> tuple[Any, ...]:
    """Rows as a source's snapshot hands them to a sink (PostgreSQL bit(n) arrives here as text)."""
    out = list(row)
    for i, column in enumerate(columns):
        if column.type.kind == Kind.BIT and isinstance(out[i], str):
            out[i] = int(out[i], 2) if out[i] else 0
    return tuple(out)


@dataclass
class RepairPlan:
    schema: TableSchema  # the rows' schema at the target: the source's, or the mapping plan's target schema
    upserts: dict[Key, tuple[Any, ...]]  # by the schema's key
    deletes: set[Key]


def plan_repair(compare: TableCompare, keys: Sequence[Key]) -> RepairPlan:
    """The source's rows now for the keys (as the task lands them), and the keys it no longer has."""
    compare.prepare()
    keys = list(dict.fromkeys(tuple(k) for k in keys))
    rows = compare.source.read_keys(compare.mapping.source, compare.source_columns, compare.key, keys)
    source_key = compare.source_schema.key_indexes()
    mapped = compare.mapped
    schema = compare.source_schema if mapped is None else mapped.plan.target_schema
    key_at = schema.key_indexes()
    upserts: dict[Key, tuple[Any, ...]] = {}
    found: set[Key] = set()
    for row in rows:
        values = _sink_values(compare.source_columns, row)
        raw_key = tuple(values[i] for i in source_key)
        landed = values if mapped is None else mapped.plan.row(values)
        if landed is not None:  # else the task's filter leaves it out: deleted at the target below
            upserts[tuple(landed[i] for i in key_at)] = landed
            found.add(compare.canonical_key(raw_key))
    deletes = {key for key in keys if compare.canonical_key(key) not in found}
    if mapped is not None and deletes:
        if mapped.plan.rules.logical_delete is not None:
            raise ConnectorError(
                f"{len(deletes)} key(s) of {compare.mapping.target} are not at the source (or left out by the task's "
                f"filter), e.g. {sorted(deletes, key=repr)[:3]}, and the task flags deleted rows instead of deleting "
                "them: a repair will not delete them", hint="leave these differences out of the repair, or let the "
                "sync task flag them (its stream applies the source's deletes)")
        # The target's key: the source key, plus the shard column when the route puts it into the key.
        extra = tuple(value for name, value in mapped.scope if name in schema.key_columns)
        deletes = {(*key, *extra) for key in deletes}
    return RepairPlan(schema, upserts, deletes)


def repair(compare: TableCompare, keys: Sequence[Key], source: ConnectionConfig, target: ConnectionConfig
           ) -> RepairOutcome:
    """Write the source's rows for keys to the target through its sink, then re-verify those keys."""
    planned = plan_repair(compare, keys)
    outcome = RepairOutcome(len(set(map(tuple, keys))), len(planned.upserts), len(planned.deletes))
    sink = sink_for(dataclasses.replace(target, options={**target.options, "source_engine": source.engine}))
    try:
        table_batch = TableBatch(planned.schema, compare.mapping.target, upserts=planned.upserts,
                                 deletes=planned.deletes)
        sink.write(Batch({compare.mapping.source: table_batch}))
    finally:
        sink.close()
    outcome.remaining = compare.check_keys(list(keys))
    return outcome


def repair_sql(compare: TableCompare, keys: Sequence[Key]) -> RepairOutcome:
    """The statements a repair would run, as SQL text for review; nothing is written."""
    planned = plan_repair(compare, keys)
    upserts, deletes = planned.upserts, planned.deletes
    outcome = RepairOutcome(len(set(map(tuple, keys))), len(upserts), len(deletes))
    schema, target = planned.schema, compare.mapping.target
    if isinstance(compare.target, PostgresEndpoint):
        outcome.sql = _postgres_sql(compare.target, schema, target, upserts, deletes)
    else:
        outcome.sql = _mysql_sql(schema, target, upserts, deletes)
    return outcome


def _mysql_sql(schema: TableSchema, target: TableId, upserts: dict[Key, tuple[Any, ...]], deletes: set[Key]) -> str:
    table = f"{quote_ident(target.database)}.{quote_ident(target.name)}"
    key = schema.key_columns
    key_columns = [schema.column(k) for k in key]
    names = ", ".join(quote_ident(n) for n in schema.column_names)
    non_key = [n for n in schema.column_names if n not in key] or list(key)
    update = ", ".join(f"{quote_ident(n)} = VALUES({quote_ident(n)})" for n in non_key)
    lines = ["START TRANSACTION;"]
    for values in sorted(deletes, key=repr):
        condition = " AND ".join(f"{quote_ident(c.name)} = {mysql_literal(c, v)}"
                                 for c, v in zip(key_columns, values, strict=True))
        lines.append(f"DELETE FROM {table} WHERE {condition};")  # noqa: S608 - quoted names, sink literals
    for _, row in sorted(upserts.items(), key=lambda item: repr(item[0])):
        literals = ", ".join(mysql_literal(c, v) for c, v in zip(schema.columns, row, strict=True))
        lines.append(f"INSERT INTO {table} ({names}) VALUES ({literals}) "  # noqa: S608 - quoted, sink literals
                     f"ON DUPLICATE KEY UPDATE {update};")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _postgres_sql(endpoint: PostgresEndpoint, schema: TableSchema, target: TableId,
                  upserts: dict[Key, tuple[Any, ...]], deletes: set[Key]) -> str:
    conn = endpoint.connection()
    table = sql.Identifier(target.database, target.name)
    key = schema.key_columns
    converters = [column_converter(c, binary=False) for c in schema.columns]

    def value(index: int, raw: Any) -> sql.Composable:
        convert = converters[index]
        return sql.Literal(convert(raw) if convert is not None and raw is not None else raw)

    names = sql.SQL(", ").join(sql.Identifier(n) for n in schema.column_names)
    non_key = [n for n in schema.column_names if n not in key]
    conflict = (sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in non_key)) if non_key
        else sql.SQL("DO NOTHING"))
    key_sql = sql.SQL(", ").join(sql.Identifier(k) for k in key)
    key_indexes = schema.key_indexes()
    lines = ["BEGIN;"]
    for values in sorted(deletes, key=repr):
        condition = sql.SQL(" AND ").join(sql.SQL("{} = {}").format(sql.Identifier(k), value(i, v))
                                         for k, i, v in zip(key, key_indexes, values, strict=True))
        lines.append(sql.SQL("DELETE FROM {} WHERE {};").format(table, condition).as_string(conn))
    for _, row in sorted(upserts.items(), key=lambda item: repr(item[0])):
        literals = sql.SQL(", ").join(value(i, v) for i, v in enumerate(row))
        lines.append(sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {};").format(
            table, names, literals, key_sql, conflict).as_string(conn))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
