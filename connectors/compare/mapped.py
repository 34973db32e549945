"""A sync task's mapping seen by a compare: what one source table's rows look like at the target.

The compare compiles the same ``Mapper(spec.mapping, targets).plan(source_schema)`` the pipeline
uses, so each source row is compared *as it would land* (renamed, left-out columns gone, filtered
rows not expected, masks and constants applied, shard column added) against the target's rows.

Left out of the comparison, because the sync cannot reproduce them at compare time:
- computed ``commit_time`` and ``op`` (the change that wrote the row: snapshot or stream);
- a logical delete's flag and time columns. Rows flagged deleted at the target are treated as
  absent (the target side reads only rows whose flag is false): a row deleted at the source is
  not "extra", and a source row whose target copy is flagged is "missing".

Shards merged into one target: with a ``shard_column``, each shard is compared with the target
rows whose shard column holds that shard's ``db.table`` (a parameterised condition on every
target read). Without one, the target's rows cannot be told apart per shard: refused, naming the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.errors import ConnectorError
from connectors.transform.mapping import MappingSpec
from connectors.transform.plan import Mapper, TablePlan
from connectors.types import ColumnSchema, TableId, TableSchema

UNREPRODUCIBLE_COMPUTED = frozenset({"commit_time", "op"})


@dataclass(frozen=True)
class MappedTable:
    plan: TablePlan
    key: tuple[str, ...]  # the target's names of the source key columns (the chunks' key at the target)
    columns: tuple[ColumnSchema, ...]  # compared target columns, as the plan types them
    out_indexes: tuple[int, ...]  # where each compared column is in the plan's output row
    scope: tuple[tuple[str, Any], ...]  # target-side equality conditions (shard, not deleted)
    skipped: tuple[str, ...]  # target columns not compared (see the module doc)

    def expected(self, row: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The compared columns of a source row as it lands at the target; None when the filter leaves it out."""
        out = self.plan.row(row)
        return None if out is None else tuple(out[i] for i in self.out_indexes)


def needs_mapping(mapper: Mapper, plan: TablePlan) -> bool:
    """Whether the plan changes anything a plain compare would see (else the SQL checksum path serves)."""
    return not plan.identity or shared(mapper, plan.target)


def shared(mapper: Mapper, target: TableId) -> bool:
    return list(mapper.targets.values()).count(target) > 1


def mapped_table(mapper: Mapper, source_schema: TableSchema) -> MappedTable:
    plan = mapper.plan(source_schema)
    spec: MappingSpec = mapper.mapping
    table = source_schema.table
    naming = spec.naming.column
    rules = spec.rules(table)
    # The same route the Mapper applies (a table's own target rule wins over routes).
    route = spec.route(table) if table not in spec.tables or spec.tables[table].target is None else None
    shard_column = naming(route.shard_column) if route is not None and route.shard_column else None
    if shared(mapper, plan.target) and shard_column is None:
        raise ConnectorError(
            f"{table} is merged with other tables into {plan.target} without a shard column: the target's rows "
            "cannot be told apart per source table, so this table's rows cannot be compared with them",
            hint="set the route's shard_column (the sync then records each row's source table), or compare each "
                 "source table with a target of its own")
    skipped = [naming(c.name) for c in rules.computed if c.value in UNREPRODUCIBLE_COMPUTED]
    scope: list[tuple[str, Any]] = []
    if rules.logical_delete is not None:
        flag = naming(rules.logical_delete.flag_column)
        skipped.append(flag)
        scope.append((flag, False))
        if rules.logical_delete.time_column:
            skipped.append(naming(rules.logical_delete.time_column))
    if shard_column is not None:
        scope.append((shard_column, str(table)))
    names = plan.target_schema.column_names
    out_indexes = tuple(i for i, name in enumerate(names) if name not in skipped)
    key = tuple(naming(rules.rename.get(name, name)) for name in source_schema.key_columns)
    return MappedTable(plan, key, tuple(plan.target_schema.columns[i] for i in out_indexes), out_indexes,
                       tuple(scope), tuple(skipped))
