"""The task spec: what to copy from where to where, and how. The same JSON the API stores.

Example:
    {
      "name": "orders",
      "source": {"engine": "mysql", "host": "10.0.0.5", "port": 3306, "user": "dts", "password": "…"},
      "target": {"engine": "postgresql", "host": "10.0.0.6", "port": 5432, "user": "dts", "password": "…",
                 "database": "analytics"},
      "mode": "full+incremental",
      "tables": ["shop.orders", {"source": "shop.items", "target": "sales.items"}],
      "options": {"batch_size": 5000, "parallelism": 2, "ddl_policy": "apply"},
      "mapping": {"tables": {"shop.orders": {"filter": "status != 'deleted'"}}}
    }

`mapping` (names, routes, per-table rules) is described in connectors.transform.mapping; the
table targets here are already resolved through it (a route's target, the naming convention).

Validation collects every problem with its path ("options.batch_size: …") instead of stopping
at the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.registry import DEFAULT_PORTS
from connectors.transform.mapping import MappingSpec, parse_mapping
from connectors.types import TableId

MODES = ("schema", "full", "incremental", "full+incremental")
DDL_POLICIES = ("apply", "ignore", "fail", "review")
ZERO_DATE_POLICIES = ("null", "epoch", "string", "fail")
DIRTY_DATA_POLICIES = ("fail", "quarantine")
IF_EXISTS = ("keep", "drop", "truncate", "fail")


class SpecError(ConnectorError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid task spec: " + "; ".join(f"{path}: {message}" for path, message in problems))


@dataclass(frozen=True)
class TableMapping:
    source: TableId
    target: TableId

    def to_json(self) -> dict[str, str]:
        return {"source": str(self.source), "target": str(self.target)}


@dataclass(frozen=True)
class TaskOptions:
    batch_size: int = 5000  # change events merged into one target transaction, at most
    flush_interval: float = 0.5  # seconds: a partial batch is written after this long
    parallelism: int = 2  # sink connections; rows are partitioned by key hash
    chunk_size: int = 50000  # snapshot rows per primary-key chunk
    rate_limit_rows: int = 0  # rows per second read from the source; 0 = unlimited
    ddl_policy: str = "apply"
    zero_date_policy: str = "null"
    dirty_data_policy: str = "fail"
    max_quarantine: int = 1000  # the task fails when more rows than this are quarantined
    allow_no_primary_key: bool = False  # append-only, at-least-once for tables without a key
    if_exists: str = "keep"  # what schema migration does with an existing target table
    server_id: int | None = None  # MySQL replica identity; allocated by the control plane
    start_position: dict[str, Any] | None = None  # incremental mode: from here instead of now
    heartbeat_seconds: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    source: ConnectionConfig
    target: ConnectionConfig
    mode: str
    tables: tuple[TableMapping, ...]
    options: TaskOptions = field(default_factory=TaskOptions)
    mapping: MappingSpec = field(default_factory=MappingSpec)

    def to_json(self, *, with_passwords: bool = False) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source.to_dict(with_password=with_passwords),
            "target": self.target.to_dict(with_password=with_passwords),
            "mode": self.mode,
            "tables": [mapping.to_json() for mapping in self.tables],
            "options": self.options.to_json(),
            "mapping": self.mapping.to_json(),
        }

    def target_of(self, source: TableId) -> TableId:
        for mapping in self.tables:
            if mapping.source == source:
                return mapping.target
        raise KeyError(str(source))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        problems: list[tuple[str, str]] = []
        if not isinstance(data, dict):
            raise SpecError([("", "the spec must be a JSON object")])
        name = data.get("name") or "task"
        source = _connection(data.get("source"), "source", problems)
        target = _connection(data.get("target"), "target", problems)
        mode = data.get("mode", "full+incremental")
        if mode not in MODES:
            problems.append(("mode", f"must be one of {', '.join(MODES)}, not {mode!r}"))
        options = _options(data.get("options", {}), problems)
        mapping = parse_mapping(data.get("mapping"), problems)
        tables = _tables(data.get("tables"), target, problems, mapping)
        sources = {table.source for table in tables}
        for table in mapping.tables:
            if tables and table not in sources:
                problems.append((f'mapping.tables["{table}"]', "is not one of the task's tables"))
        if problems:
            raise SpecError(problems)
        assert source is not None and target is not None
        return cls(str(name), source, target, mode, tuple(tables), options, mapping)


def _connection(data: Any, path: str, problems: list[tuple[str, str]]) -> ConnectionConfig | None:
    if not isinstance(data, dict):
        problems.append((path, "must be an object with engine, host, port, user, password, database"))
        return None
    missing = [name for name in ("engine", "host") if not data.get(name)]
    for name in missing:
        problems.append((f"{path}.{name}", "is required"))
    if missing:
        return None
    data = dict(data)
    data.setdefault("port", DEFAULT_PORTS.get(data["engine"], 0))
    try:
        config = ConnectionConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        problems.append((path, str(exc)))
        return None
    if not isinstance(config.port, int) or not 0 < config.port < 65536:
        problems.append((f"{path}.port", "must be a port number from 1 to 65535"))
    return config


def _options(data: Any, problems: list[tuple[str, str]]) -> TaskOptions:
    if not isinstance(data, dict):
        problems.append(("options", "must be an object"))
        return TaskOptions()
    known = {f.name: f for f in fields(TaskOptions)}
    for name in sorted(set(data) - set(known)):
        problems.append((f"options.{name}", f"unknown option; known: {', '.join(sorted(known))}"))
    values = {k: v for k, v in data.items() if k in known}
    positive = ("batch_size", "parallelism", "chunk_size")
    for name in positive:
        if name in values and (not isinstance(values[name], int) or isinstance(values[name], bool)
                               or values[name] < 1):
            problems.append((f"options.{name}", "must be a positive integer"))
    for name in ("rate_limit_rows", "max_quarantine"):
        if name in values and (not isinstance(values[name], int) or values[name] < 0):
            problems.append((f"options.{name}", "must be an integer ≥ 0"))
    for name in ("flush_interval", "heartbeat_seconds"):
        if name in values and (not isinstance(values[name], (int, float)) or values[name] <= 0):
            problems.append((f"options.{name}", "must be a number of seconds > 0"))
    choices = {"ddl_policy": DDL_POLICIES, "zero_date_policy": ZERO_DATE_POLICIES,
               "dirty_data_policy": DIRTY_DATA_POLICIES, "if_exists": IF_EXISTS}
    for name, allowed in choices.items():
        if name in values and values[name] not in allowed:
            problems.append((f"options.{name}", f"must be one of {', '.join(allowed)}, not {values[name]!r}"))
    if "server_id" in values and values["server_id"] is not None and (
            not isinstance(values["server_id"], int) or not 0 < values["server_id"] < 2**32):
        problems.append(("options.server_id", "must be an integer from 1 to 4294967295"))
    if values.get("start_position") is not None and not isinstance(values["start_position"], dict):
        problems.append(("options.start_position", "must be a position object as a task's state saves it "
                                                   "(MySQL: {\"file\": …, \"pos\": …}), or null"))
    try:
        return TaskOptions(**values)
    except TypeError as exc:
        problems.append(("options", str(exc)))
        return TaskOptions()


def _tables(data: Any, target: ConnectionConfig | None, problems: list[tuple[str, str]],
            mapping: MappingSpec | None = None) -> list[TableMapping]:
    if not isinstance(data, list) or not data:
        problems.append(("tables", "must be a non-empty list of 'db.table' or {\"source\": …, \"target\": …}"))
        return []
    mappings: list[TableMapping] = []
    for index, item in enumerate(data):
        path = f"tables[{index}]"
        try:
            if isinstance(item, str) or (isinstance(item, dict) and "source" in item):
                given = {"source": item} if isinstance(item, str) else item
                source = TableId.parse(given["source"])
                explicit = bool(given.get("target"))
                dest = TableId.parse(given["target"]) if explicit else default_target(source, target)
                if mapping is not None:
                    dest = mapping.target(source, dest, explicit)
                mappings.append(TableMapping(source, dest))
            else:
                problems.append((path, "must be 'db.table' or {\"source\": \"db.table\", \"target\": \"db.table\"}"))
        except ValueError as exc:
            problems.append((path, str(exc)))
    seen: dict[TableId, int] = {}
    routed = {route.target for route in mapping.routes} if mapping is not None else set()
    for index, table in enumerate(mappings):
        if table.target in seen and table.target not in routed:  # routes merge shards on purpose
            problems.append((f"tables[{index}]", f"target {table.target} is also the target of "
                                                 f"tables[{seen[table.target]}]; merge tables into one with "
                                                 "mapping.routes"))
        seen[table.target] = index
    return mappings


def default_target(source: TableId, target: ConnectionConfig | None) -> TableId:
    """Same names: a MySQL database becomes a PostgreSQL schema of the same name."""
    return TableId(source.database, source.name)
