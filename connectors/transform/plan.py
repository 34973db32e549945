"""Table plans: a source table's schema and rows mapped to what lands at the target.

A TablePlan is compiled once per source schema version from the task's mapping and used by
both the snapshot loader (`row`) and the stream (`events`), so the two paths cannot disagree.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from connectors.errors import ConnectorError
from connectors.events import DELETE, INSERT, UPDATE, ChangeEvent
from connectors.quarantine import jsonable
from connectors.transform import expression
from connectors.transform.mapping import MappingSpec, Route, TableRules, Transform
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

TEXT = CanonicalType(Kind.STRING)
SHARD_TYPE = CanonicalType(Kind.STRING, length=255)
OP_TYPE = CanonicalType(Kind.STRING, length=16)
HASH_TYPE = CanonicalType(Kind.STRING, length=64, fixed=True)
TIME_TYPE = CanonicalType(Kind.TIMESTAMP, fsp=6)
BOOL_TYPE = CanonicalType(Kind.BOOL)
TEXT_KINDS = frozenset({Kind.STRING, Kind.JSON, Kind.ENUM, Kind.SET})
SNAPSHOT = "snapshot"  # the `op` computed value of snapshot rows

Value = Callable[[Sequence[Any], "Context"], Any]


class MappingError(ConnectorError):
    """A mapping rule that does not fit the table it is applied to (the path names the rule)."""

    def __init__(self, path: str, message: str, hint: str = "") -> None:
        super().__init__(f"{path}: {message}", hint=hint or "fix the task's mapping")
        self.path = path


class TransformError(ConnectorError):
    """A row a rule cannot process (e.g. invalid JSON); handled by the dirty-data policy."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message, hint="fix the value at the source, change the rule, or quarantine such rows "
                                       "(dirty_data_policy 'quarantine')")
        self.column = column


@dataclasses.dataclass(frozen=True)
class Context:
    op: str
    commit_time: float | None


class TablePlan:
    """How one source table (at one schema version) lands at its target."""

    def __init__(self, schema: TableSchema, target: TableId, rules: TableRules, route: Route | None,
                 naming_column: Callable[[str], str], shared_target: bool) -> None:
        self.source_schema = schema
        self.target = target
        self.rules = rules
        self.drop_deletes = "delete" in rules.drop_ops
        self.drop_ddl = "ddl" in rules.drop_ops
        try:
            self._filter = expression.compile_filter(rules.filter, schema.column_names) if rules.filter else None
        except expression.ExpressionError as exc:
            raise MappingError(f"{rules.path}.filter", str(exc)) from None
        columns, values, self._flag_at, self._time_at = self._compile(schema, rules, route, naming_column)
        self._values = values
        key = tuple(self._renamed[name] for name in schema.key_columns)
        if route is not None and route.shard_column_in_key:
            key = (*key, naming_column(route.shard_column or ""))
        uniques = tuple(tuple(self._renamed[c] for c in unique) for unique in schema.unique_keys
                        if set(unique) <= self._kept and not shared_target)
        # Keyed by the primary key when the source has one, or when other tables share the target
        # (their unique keys are not kept: shards may hold the same values); else by the same unique key.
        primary = key if schema.primary_key or shared_target or len(key) != len(schema.key_columns) else ()
        self.target_schema = TableSchema(schema.table, tuple(columns), primary if key else (),
                                         uniques, schema.version, dict(schema.extra))
        self.identity = (self._filter is None and not rules.logical_delete and not self.drop_deletes
                         and self.target_schema.columns == schema.columns and self._passthrough)
        # A chunk's key range cannot be replaced at a target other tables also write to, or whose key differs.
        self.upsert_snapshot = shared_target or self.target_schema.key_columns != schema.key_columns

    # -- compilation --------------------------------------------------------------------------------
    def _compile(self, schema: TableSchema, rules: TableRules, route: Route | None,
                 naming_column: Callable[[str], str]) -> tuple[list[ColumnSchema], list[Value], int | None, int | None]:
        names = schema.column_names
        # Excluding or renaming a column the table does not have (any more: dropped at the source) changes
        # nothing; a missing included column is a column the user wants and would not get.
        for name in rules.include or ():
            if name not in names:
                raise MappingError(f"{rules.path}.columns", f"{schema.table} has no column {name!r}; it has "
                                                            f"{', '.join(names)}")
        keep = [n for n in names if (rules.include is None or n in rules.include) and n not in rules.exclude]
        for name in schema.key_columns:
            if name not in keep:
                raise MappingError(f"{rules.path}.columns", f"key column {name!r} cannot be left out: changes are "
                                                            "applied by key")
        self._kept = set(keep)
        self._renamed = {name: naming_column(rules.rename.get(name, name)) for name in names}
        by_column: dict[str, list[Transform]] = {}
        extra: list[tuple[ColumnSchema, Value]] = []
        self._passthrough = True
        for rule in rules.transforms:
            if rule.column not in names:
                raise MappingError(f"{rule.path}.column", f"{schema.table} has no column {rule.column!r}")
            if rule.column in schema.key_columns and rule.type not in ("json_extract", "json_flatten"):
                raise MappingError(f"{rule.path}", f"key column {rule.column!r} cannot be transformed: changes are "
                                                   "applied by key")
            source_type = schema.column(rule.column).type
            if rule.type in ("replace", "regex_replace", "trim", "lower", "upper", "keep",
                             "json_extract", "json_flatten") and source_type.kind not in TEXT_KINDS:
                raise MappingError(f"{rule.path}", f"{rule.type} needs a text or JSON column; {rule.column!r} is "
                                                   f"{source_type.describe()}")
            at = names.index(rule.column)
            if rule.type == "json_extract":
                extra.append((ColumnSchema(naming_column(rule.params["into"]), TEXT),
                              _json_extract(at, rule.params["path"], rule.column)))
            elif rule.type == "json_flatten":
                prefix = rule.params.get("prefix", "")
                for json_key in rule.params["keys"]:
                    extra.append((ColumnSchema(naming_column(f"{prefix}{json_key}"), TEXT),
                                  _json_extract(at, f"$.{json_key}", rule.column)))
            else:
                if rule.column not in keep:
                    raise MappingError(f"{rule.path}.column", f"{rule.column!r} is left out by the column rules")
                by_column.setdefault(rule.column, []).append(rule)
                self._passthrough = False
        columns: list[ColumnSchema] = []
        values: list[Value] = []
        for name in keep:
            column = schema.column(name)
            at = names.index(name)
            value: Value = _column(at)
            column = dataclasses.replace(column, name=self._renamed[name])
            for rule in by_column.get(name, []):
                value, column = _apply(rule, value, column)
            columns.append(column)
            values.append(value)
        for column, value in extra:
            columns.append(column)
            values.append(value)
        if route is not None and route.shard_column:
            shard = str(schema.table)
            columns.append(ColumnSchema(naming_column(route.shard_column), SHARD_TYPE, nullable=False))
            values.append(lambda row, ctx: shard)
        for computed in rules.computed:
            column_type, computed_value = _computed(computed.value, computed.constant, schema.table)
            columns.append(ColumnSchema(naming_column(computed.name), column_type))
            values.append(computed_value)
        flag_at = time_at = None
        if rules.logical_delete is not None:
            flag_at = len(columns)
            columns.append(ColumnSchema(naming_column(rules.logical_delete.flag_column), BOOL_TYPE, nullable=False,
                                        default=False))
            values.append(lambda row, ctx: ctx.op == DELETE)
            if rules.logical_delete.time_column:
                time_at = len(columns)
                columns.append(ColumnSchema(naming_column(rules.logical_delete.time_column), TIME_TYPE))
                values.append(lambda row, ctx: _time(ctx.commit_time) if ctx.op == DELETE else None)
        seen: dict[str, int] = {}
        for column in columns:
            if column.name in seen:
                raise MappingError(rules.path, f"two target columns are named {column.name!r}; rename one")
            seen[column.name] = 1
        return columns, values, flag_at, time_at

    # -- rows and events ----------------------------------------------------------------------------
    def passes(self, row: Sequence[Any]) -> bool:
        if self._filter is None:
            return True
        try:
            return self._filter(row) is True
        except expression.EvaluationError as exc:
            raise TransformError(None, f"{self.rules.path}.filter: {exc}") from exc

    def convert(self, row: Sequence[Any], context: Context) -> tuple[Any, ...]:
        return tuple(value(row, context) for value in self._values)

    def row(self, row: tuple[Any, ...], context: Context = Context(SNAPSHOT, None)) -> tuple[Any, ...] | None:
        """A snapshot row as it lands at the target, or None when the filter leaves it out."""
        if self.identity:
            return row
        if not self.passes(row):
            return None
        return self.convert(row, context)

    def events(self, event: ChangeEvent) -> list[ChangeEvent]:
        """A row change as it lands at the target: none, one, or a different operation (see the module doc)."""
        if self.identity:
            return [event]
        op, before, after = event.op, event.before, event.after
        if op == INSERT:
            assert after is not None
            return [self._event(INSERT, None, after, event)] if self.passes(after) else []
        if op == UPDATE:
            assert before is not None and after is not None
            was, now = self.passes(before), self.passes(after)
            if was and now:
                return [self._event(UPDATE, before, after, event)]
            if now:  # moved into the filter: the target has no such row yet
                return [self._event(INSERT, None, after, event)]
            if was:  # moved out of the filter: gone from the target
                return self._delete(before, event)
            return []
        if op == DELETE:
            assert before is not None
            if self.drop_deletes or not self.passes(before):
                return []
            return self._delete(before, event)
        raise ValueError(f"not a row event: {op}")

    def _delete(self, before: tuple[Any, ...], event: ChangeEvent) -> list[ChangeEvent]:
        if self.rules.logical_delete is None:
            return [self._event(DELETE, before, None, event)]
        kept = self.convert(before, Context(UPDATE, event.commit_time))
        gone = self.convert(before, Context(DELETE, event.commit_time))
        return [ChangeEvent(UPDATE, event.table, self.target_schema, kept, gone, event.commit_time, event.position)]

    def _event(self, op: str, before: tuple[Any, ...] | None, after: tuple[Any, ...] | None,
               event: ChangeEvent) -> ChangeEvent:
        context = Context(op, event.commit_time)
        return ChangeEvent(op, event.table, self.target_schema,
                           self.convert(before, context) if before is not None else None,
                           self.convert(after, context) if after is not None else None,
                           event.commit_time, event.position)


class Mapper:
    """The task's mapping compiled lazily into TablePlans, one per source schema version (thread-safe)."""

    def __init__(self, mapping: MappingSpec, targets: dict[TableId, TableId]) -> None:
        self.mapping = mapping
        self.targets = targets
        self._shared = {target for target in targets.values() if list(targets.values()).count(target) > 1}
        self._plans: dict[TableSchema, TablePlan] = {}
        self._by_id: dict[int, tuple[TableSchema, TablePlan]] = {}  # keeps the schema alive, so ids stay unique
        self._lock = threading.Lock()

    def plan(self, schema: TableSchema) -> TablePlan:
        # Looked up per change event: by identity first (a source hands out the same schema object for a
        # table version), since hashing a schema's columns per event would cost more than the lookup.
        cached = self._by_id.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        with self._lock:
            plan = self._plans.get(schema)
            if plan is None:
                plan = self._plans[schema] = self._compile(schema)
            if len(self._by_id) > 1024:  # a source that builds schema objects per event: stay bounded
                self._by_id.clear()
            self._by_id[id(schema)] = (schema, plan)
        return plan

    def _compile(self, schema: TableSchema) -> TablePlan:
        table = schema.table
        route = self.mapping.route(table) if table not in self.mapping.tables or \
            self.mapping.tables[table].target is None else None
        target = self.targets.get(table, table)
        return TablePlan(schema, target, self.mapping.rules(table), route, self.mapping.naming.column,
                         target in self._shared)

    def drops_ddl(self, table: TableId) -> bool:
        return "ddl" in self.mapping.rules(table).drop_ops


# -- value builders ------------------------------------------------------------------------------------

def _column(at: int) -> Value:
    return lambda row, ctx: row[at]


def _time(commit_time: float | None) -> datetime.datetime | None:
    return None if commit_time is None else datetime.datetime.fromtimestamp(commit_time, datetime.UTC)


def _computed(kind: str | None, constant: Any, table: TableId) -> tuple[CanonicalType, Value]:
    if kind == "source_database":
        return TEXT, lambda row, ctx: table.database
    if kind == "source_table":
        return TEXT, lambda row, ctx: table.name
    if kind == "commit_time":
        return TIME_TYPE, lambda row, ctx: _time(ctx.commit_time)
    if kind == "op":
        return OP_TYPE, lambda row, ctx: ctx.op
    column_type = (BOOL_TYPE if isinstance(constant, bool) else CanonicalType(Kind.INT, bits=64)
                   if isinstance(constant, int) else CanonicalType(Kind.FLOAT, bits=64)
                   if isinstance(constant, float) else TEXT)
    return column_type, lambda row, ctx: constant


def _text(value: Any) -> str:
    """A value as text for hashing and masking: the same canonical text the quarantine shows."""
    shown = jsonable(value)
    return shown if isinstance(shown, str) else json.dumps(shown, sort_keys=True)


def _apply(rule: Transform, inner: Value, column: ColumnSchema) -> tuple[Value, ColumnSchema]:
    params = rule.params
    kind = rule.type
    if kind == "null":
        return (lambda row, ctx: None), dataclasses.replace(column, nullable=True, default=None)
    if kind == "constant":
        constant = params["value"]
        return (lambda row, ctx: constant), dataclasses.replace(column, nullable=column.nullable or constant is None)
    text_column = dataclasses.replace(column, type=TEXT, default=None)
    function: Callable[[Any], Any]
    if kind == "hash":
        salt = params.get("salt", "").encode()
        column = dataclasses.replace(column, type=HASH_TYPE, default=None)
        function = lambda v: hashlib.sha256(salt + _text(v).encode()).hexdigest()  # noqa: E731
    elif kind == "keep":
        first, last, mask = params.get("first", 0), params.get("last", 0), params.get("mask", "*")
        column = text_column if column.type.kind != Kind.STRING else dataclasses.replace(column, default=None)
        function = lambda v: _keep(str(v), first, last, mask)  # noqa: E731
    elif kind == "replace":
        old, new = params["old"], params["new"]
        column = text_column
        function = lambda v: str(v).replace(old, new)  # noqa: E731
    elif kind == "regex_replace":
        pattern, replacement = re.compile(params["pattern"]), params["replacement"]
        column = text_column
        function = lambda v: pattern.sub(replacement, str(v))  # noqa: E731
    elif kind == "trim":
        chars = params.get("chars")
        function = lambda v: str(v).strip(chars)  # noqa: E731
    elif kind == "lower":
        function = lambda v: str(v).lower()  # noqa: E731
    elif kind == "upper":
        function = lambda v: str(v).upper()  # noqa: E731
    else:  # pragma: no cover - the mapping's validation knows every type
        raise MappingError(rule.path, f"unknown transform {kind!r}")

    def value(row: Sequence[Any], ctx: Context) -> Any:
        current = inner(row, ctx)
        return None if current is None else function(current)

    return value, column


def _keep(text: str, first: int, last: int, mask: str) -> str:
    if first + last >= len(text):
        return text
    middle = len(text) - first - last
    return text[:first] + (mask * middle)[:middle] + (text[len(text) - last:] if last else "")


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _json_extract(at: int, path: str, column: str) -> Value:
    steps: list[str | int] = [name if name else int(index) for name, index in _PATH_STEP.findall(path[1:])]

    def value(row: Sequence[Any], ctx: Context) -> Any:
        text = row[at]
        if text is None:
            return None
        try:
            current: Any = json.loads(text) if isinstance(text, str | bytes) else text
        except ValueError as exc:
            raise TransformError(column, f"column {column!r} is not valid JSON ({exc}), so {path} cannot be "
                                         "extracted") from exc
        for step in steps:
            if isinstance(step, int) and isinstance(current, list) and step < len(current):
                current = current[step]
            elif isinstance(step, str) and isinstance(current, dict) and step in current:
                current = current[step]
            else:
                return None
        if current is None or isinstance(current, str):
            return current
        return json.dumps(current, sort_keys=True) if isinstance(current, dict | list) else json.dumps(current)

    return value
