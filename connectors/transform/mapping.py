"""The task's `mapping`: names, routes and per-table rules, read from JSON with every problem collected.

Shape (all keys optional)::

    {"naming": {"case": "lower" | "upper" | null, "prefix": "", "suffix": ""},
     "routes": [{"source": "<regex on db.table>", "target": "db.table", "shard_column": "src_table" | null,
                 "shard_column_in_key": false}],
     "tables": {"<source db.table>": {"target": "db.table",
                "columns": {"include": [...], "exclude": [...], "rename": {"old": "new"}},
                "filter": "<expression>", "transforms": [{"column": "c", "type": "hash", ...}],
                "computed": [{"name": "c", "value": "source_database" | ... | {"constant": x}}],
                "logical_delete": {"flag_column": "is_deleted", "time_column": "deleted_at"} | null,
                "drop_ops": ["delete", "ddl"]}}}

Column names in `columns`, `filter` and `transforms` are the source's; renames and naming apply
to what lands at the target. Problems are reported with paths such as
`mapping.tables["shop.orders"].filter: unexpected ')' at 14`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectors.transform import expression
from connectors.types import TableId

CASES = ("lower", "upper")
COMPUTED_VALUES = ("source_database", "source_table", "commit_time", "op")
DROP_OPS = ("delete", "ddl")
# type -> (required params, optional params)
TRANSFORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hash": ((), ("salt",)),
    "keep": ((), ("first", "last", "mask")),
    "constant": (("value",), ()),
    "null": ((), ()),
    "replace": (("old", "new"), ()),
    "regex_replace": (("pattern", "replacement"), ()),
    "trim": ((), ("chars",)),
    "lower": ((), ()),
    "upper": ((), ()),
    "json_extract": (("path", "into"), ()),
    "json_flatten": (("keys",), ("prefix",)),
}
Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Naming:
    case: str | None = None
    prefix: str = ""
    suffix: str = ""

    def table(self, table: TableId) -> TableId:
        name = f"{self.prefix}{table.name}{self.suffix}"
        return TableId(self.column(table.database), self.column(name))

    def column(self, name: str) -> str:
        return name.lower() if self.case == "lower" else name.upper() if self.case == "upper" else name


@dataclass(frozen=True)
class Route:
    source: str
    target: TableId
    shard_column: str | None = None
    shard_column_in_key: bool = False

    def matches(self, table: TableId) -> bool:
        return re.fullmatch(self.source, str(table)) is not None


@dataclass(frozen=True)
class Transform:
    column: str
    type: str
    params: dict[str, Any]
    path: str  # where it was written, for errors


@dataclass(frozen=True)
class Computed:
    name: str
    value: str | None  # one of COMPUTED_VALUES, or None for a constant
    constant: Any = None


@dataclass(frozen=True)
class LogicalDelete:
    flag_column: str = "is_deleted"
    time_column: str | None = "deleted_at"


@dataclass(frozen=True)
class TableRules:
    target: TableId | None = None
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    filter: str | None = None
    transforms: tuple[Transform, ...] = ()
    computed: tuple[Computed, ...] = ()
    logical_delete: LogicalDelete | None = None
    drop_ops: frozenset[str] = frozenset()
    path: str = ""


@dataclass(frozen=True)
class MappingSpec:
    naming: Naming = field(default_factory=Naming)
    routes: tuple[Route, ...] = ()
    tables: dict[TableId, TableRules] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return self.raw

    def rules(self, table: TableId) -> TableRules:
        return self.tables.get(table) or TableRules(path=f'mapping.tables["{table}"]')

    def route(self, table: TableId) -> Route | None:
        return next((route for route in self.routes if route.matches(table)), None)

    def target(self, source: TableId, given: TableId, explicit: bool) -> TableId:
        """Where a source table lands: its rule's target, else a route's, else the task's explicit target,
        else the default name under the naming convention."""
        rules = self.tables.get(source)
        if rules is not None and rules.target is not None:
            return rules.target
        route = self.route(source)
        if route is not None:
            return route.target
        return given if explicit else self.naming.table(given)


def parse_mapping(data: Any, problems: Problems) -> MappingSpec:
    if data is None or data == {}:
        return MappingSpec()
    if not isinstance(data, dict):
        problems.append(("mapping", "must be an object with naming, routes and tables"))
        return MappingSpec()
    for key in sorted(set(data) - {"naming", "routes", "tables"}):
        problems.append((f"mapping.{key}", "unknown key; known: naming, routes, tables"))
    naming = _naming(data.get("naming"), problems)
    routes = _routes(data.get("routes"), problems)
    tables: dict[TableId, TableRules] = {}
    raw_tables = data.get("tables", {})
    if not isinstance(raw_tables, dict):
        problems.append(("mapping.tables", "must be an object keyed by source \"db.table\""))
        raw_tables = {}
    for name, rules in raw_tables.items():
        path = f"mapping.tables[{name!r}]".replace("'", '"')
        try:
            table = TableId.parse(name)
        except ValueError as exc:
            problems.append((path, str(exc)))
            continue
        tables[table] = _table_rules(rules, path, problems)
    return MappingSpec(naming, tuple(routes), tables, data)


def _naming(data: Any, problems: Problems) -> Naming:
    if data is None:
        return Naming()
    if not isinstance(data, dict):
        problems.append(("mapping.naming", "must be an object with case, prefix, suffix"))
        return Naming()
    for key in sorted(set(data) - {"case", "prefix", "suffix"}):
        problems.append((f"mapping.naming.{key}", "unknown key; known: case, prefix, suffix"))
    case = data.get("case")
    if case is not None and case not in CASES:
        problems.append(("mapping.naming.case", f"must be 'lower', 'upper' or null, not {case!r}"))
        case = None
    texts = {}
    for key in ("prefix", "suffix"):
        value = data.get(key, "") or ""
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_$]*", value):
            problems.append((f"mapping.naming.{key}", "must be letters, digits, '_' or '$'"))
            value = ""
        texts[key] = value
    return Naming(case, texts["prefix"], texts["suffix"])


def _routes(data: Any, problems: Problems) -> list[Route]:
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append(("mapping.routes", "must be a list of {source, target, shard_column, shard_column_in_key}"))
        return []
    routes = []
    for index, item in enumerate(data):
        path = f"mapping.routes[{index}]"
        if not isinstance(item, dict):
            problems.append((path, "must be an object with source (a regex) and target (db.table)"))
            continue
        for key in sorted(set(item) - {"source", "target", "shard_column", "shard_column_in_key"}):
            problems.append((f"{path}.{key}", "unknown key; known: source, target, shard_column, shard_column_in_key"))
        pattern = item.get("source")
        ok = True
        if not isinstance(pattern, str) or not pattern:
            problems.append((f"{path}.source", "is required: a regular expression matched against 'db.table'"))
            ok = False
        else:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append((f"{path}.source", f"not a regular expression: {exc}"))
                ok = False
        target = _table_id(item.get("target"), f"{path}.target", problems, required=True)
        shard = item.get("shard_column")
        if shard is not None and (not isinstance(shard, str) or not shard):
            problems.append((f"{path}.shard_column", "must be a column name or null"))
            shard = None
        in_key = item.get("shard_column_in_key", False)
        if not isinstance(in_key, bool):
            problems.append((f"{path}.shard_column_in_key", "must be true or false"))
            in_key = False
        if in_key and not shard:
            problems.append((f"{path}.shard_column_in_key", "needs a shard_column to add to the key"))
        if ok and target is not None and isinstance(pattern, str):
            routes.append(Route(pattern, target, shard, bool(in_key and shard)))
    return routes


def _table_id(value: Any, path: str, problems: Problems, *, required: bool = False) -> TableId | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        problems.append((path, "must be 'db.table'"))
        return None
    try:
        return TableId.parse(value)
    except ValueError as exc:
        problems.append((path, str(exc)))
        return None


def _names(value: Any, path: str, problems: Problems) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append((path, "must be a list of column names"))
        return None
    return tuple(value)


TABLE_KEYS = ("target", "columns", "filter", "transforms", "computed", "logical_delete", "drop_ops")


def _table_rules(data: Any, path: str, problems: Problems) -> TableRules:
    if not isinstance(data, dict):
        problems.append((path, f"must be an object with {', '.join(TABLE_KEYS)}"))
        return TableRules(path=path)
    for key in sorted(set(data) - set(TABLE_KEYS)):
        problems.append((f"{path}.{key}", f"unknown key; known: {', '.join(TABLE_KEYS)}"))
    target = _table_id(data.get("target"), f"{path}.target", problems)
    columns = data.get("columns") or {}
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    rename: dict[str, str] = {}
    if not isinstance(columns, dict):
        problems.append((f"{path}.columns", "must be an object with include, exclude, rename"))
    else:
        for key in sorted(set(columns) - {"include", "exclude", "rename"}):
            problems.append((f"{path}.columns.{key}", "unknown key; known: include, exclude, rename"))
        include = _names(columns.get("include"), f"{path}.columns.include", problems)
        exclude = _names(columns.get("exclude"), f"{path}.columns.exclude", problems) or ()
        if include is not None and exclude:
            problems.append((f"{path}.columns", "give include or exclude, not both"))
        raw_rename = columns.get("rename") or {}
        if not isinstance(raw_rename, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                       for k, v in raw_rename.items()):
            problems.append((f"{path}.columns.rename", "must map source column names to new names"))
        else:
            rename = dict(raw_rename)
    text = data.get("filter")
    if text is not None:
        if not isinstance(text, str):
            problems.append((f"{path}.filter", "must be an expression, e.g. \"status != 'deleted' and amount > 0\""))
            text = None
        elif text.strip():
            try:
                expression.parse(text)
            except expression.ExpressionError as exc:
                problems.append((f"{path}.filter", str(exc)))
        else:
            text = None
    transforms = _transforms(data.get("transforms"), f"{path}.transforms", problems)
    computed = _computed(data.get("computed"), f"{path}.computed", problems)
    logical = _logical_delete(data.get("logical_delete"), f"{path}.logical_delete", problems)
    drop = data.get("drop_ops") or []
    if not isinstance(drop, list) or not all(op in DROP_OPS for op in drop):
        problems.append((f"{path}.drop_ops", f"must be a list of {', '.join(DROP_OPS)}"))
        drop = []
    if logical is not None and "delete" in drop:
        problems.append((f"{path}.drop_ops", "dropping deletes and logical_delete exclude each other"))
    return TableRules(target, include, exclude, rename, text, tuple(transforms), tuple(computed), logical,
                      frozenset(drop), path)


def _transforms(data: Any, path: str, problems: Problems) -> list[Transform]:
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append((path, "must be a list of {column, type, ...}"))
        return []
    out = []
    for index, item in enumerate(data):
        at = f"{path}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("column"), str) or not item.get("column"):
            problems.append((f"{at}.column", "is required: the source column to transform"))
            continue
        kind = item.get("type")
        if kind not in TRANSFORMS:
            problems.append((f"{at}.type", f"must be one of {', '.join(TRANSFORMS)}, not {kind!r}"))
            continue
        required, optional = TRANSFORMS[kind]
        params = {k: v for k, v in item.items() if k not in ("column", "type")}
        for name in required:
            if name not in params:
                problems.append((f"{at}.{name}", f"is required for {kind}"))
        for name in sorted(set(params) - set(required) - set(optional)):
            problems.append((f"{at}.{name}", f"unknown parameter for {kind}; known: "
                                             f"{', '.join(required + optional) or 'none'}"))
        if _check_params(kind, params, at, problems):
            out.append(Transform(item["column"], kind, params, at))
    return out


def _check_params(kind: str, params: dict[str, Any], at: str, problems: Problems) -> bool:
    before = len(problems)
    if kind == "keep":
        for name in ("first", "last"):
            value = params.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append((f"{at}.{name}", "must be an integer ≥ 0"))
        if not isinstance(params.get("mask", "*"), str):
            problems.append((f"{at}.mask", "must be text, e.g. '*'"))
    elif kind == "hash" and not isinstance(params.get("salt", ""), str):
        problems.append((f"{at}.salt", "must be text"))
    elif kind == "replace":
        if not isinstance(params.get("old"), str) or not params.get("old"):
            problems.append((f"{at}.old", "must be non-empty text"))
        if not isinstance(params.get("new"), str):
            problems.append((f"{at}.new", "must be text"))
    elif kind == "regex_replace":
        try:
            re.compile(params.get("pattern"))  # type: ignore[arg-type,type-var]
        except (re.error, TypeError) as exc:
            problems.append((f"{at}.pattern", f"not a regular expression: {exc}"))
        if not isinstance(params.get("replacement"), str):
            problems.append((f"{at}.replacement", "must be text"))
    elif kind == "trim" and params.get("chars") is not None and not isinstance(params["chars"], str):
        problems.append((f"{at}.chars", "must be text"))
    elif kind == "json_extract":
        if not isinstance(params.get("path"), str) or not re.fullmatch(r"\$(\.[^.\[\]]+|\[\d+\])*", params["path"]):
            problems.append((f"{at}.path", "must be a JSON path like $.a.b or $.items[0].sku"))
        if not isinstance(params.get("into"), str) or not params.get("into"):
            problems.append((f"{at}.into", "must be the new column's name"))
    elif kind == "json_flatten":
        keys = params.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            problems.append((f"{at}.keys", "must list the top-level keys that become columns"))
        if not isinstance(params.get("prefix", ""), str):
            problems.append((f"{at}.prefix", "must be text"))
    elif kind == "constant" and not isinstance(params.get("value"), str | int | float | bool | type(None)):
        problems.append((f"{at}.value", "must be text, a number, true, false or null"))
    return len(problems) == before


def _computed(data: Any, path: str, problems: Problems) -> list[Computed]:
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append((path, "must be a list of {name, value}"))
        return []
    out = []
    for index, item in enumerate(data):
        at = f"{path}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
            problems.append((f"{at}.name", "is required: the new column's name"))
            continue
        value = item.get("value")
        if isinstance(value, dict) and set(value) == {"constant"}:
            constant = value["constant"]
            if not isinstance(constant, str | int | float | bool) or constant is None:
                problems.append((f"{at}.value.constant", "must be text, a number, true or false"))
                continue
            out.append(Computed(item["name"], None, constant))
        elif value in COMPUTED_VALUES:
            out.append(Computed(item["name"], value))
        else:
            problems.append((f"{at}.value", f"must be one of {', '.join(COMPUTED_VALUES)} or "
                                            "{\"constant\": value}"))
    return out


def _logical_delete(data: Any, path: str, problems: Problems) -> LogicalDelete | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append((path, "must be {\"flag_column\": \"is_deleted\", \"time_column\": \"deleted_at\"} or null"))
        return None
    flag = data.get("flag_column", "is_deleted")
    time_column = data.get("time_column", "deleted_at")
    if not isinstance(flag, str) or not flag:
        problems.append((f"{path}.flag_column", "must be a column name"))
        return None
    if time_column is not None and (not isinstance(time_column, str) or not time_column):
        problems.append((f"{path}.time_column", "must be a column name or null"))
        return None
    return LogicalDelete(flag, time_column)
