"""Schema changes as abstract operations, found by comparing shapes; each SQL sink renders them.

A DDL event carries the source statement (MySQL dialect) and the table's canonical schema after
it. Parsing every ALTER variant of every source dialect would be fragile, so the column-level
change is found by comparing the target's current shape (introspected by the sink) with the new
schema. The statement text is only used for what a comparison cannot tell apart:

- table renames (``RENAME TABLE a TO b``, ``ALTER TABLE a RENAME [TO|AS] b``),
- TRUNCATE (the shape does not change),
- column renames (``RENAME COLUMN a TO b``, ``CHANGE [COLUMN] a b ...``), which would otherwise
  look like a drop plus an add and lose the column's data. Without such text, exactly one column
  disappearing and one appearing at the same position with the same type is also a rename.

Every plan is idempotent: it compares with what is at the target now, so replaying a DDL event
(invariant 2) finds nothing left to do. Policies (apply, ignore, fail) belong to the pipeline.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema


@dataclass(frozen=True)
class TargetColumn:
    """A column as it is at the target: type is the target's own type text, as its catalog shows it."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TargetShape:
    """What a target table looks like now (introspected), for comparison with a canonical schema."""

    columns: tuple[TargetColumn, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> TargetColumn | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


# The operations, in the order a plan lists them.


@dataclass(frozen=True)
class CreateTable:
    table: TableId
    schema: TableSchema


@dataclass(frozen=True)
class DropTable:
    table: TableId


@dataclass(frozen=True)
class RenameTable:
    table: TableId  # the old address
    new: TableId


@dataclass(frozen=True)
class TruncateTable:
    table: TableId


@dataclass(frozen=True)
class RenameColumn:
    table: TableId
    old: str
    new: str


@dataclass(frozen=True)
class DropColumn:
    table: TableId
    name: str


@dataclass(frozen=True)
class AddColumn:
    table: TableId
    column: ColumnSchema
    after: str | None  # the column it follows in the new schema; None = first


@dataclass(frozen=True)
class AlterColumn:
    table: TableId
    column: ColumnSchema  # the new definition
    current: TargetColumn  # what is there now
    type_changed: bool
    nullable_changed: bool


@dataclass(frozen=True)
class SetPrimaryKey:
    table: TableId
    columns: tuple[str, ...]  # () = drop the primary key


@dataclass(frozen=True)
class AddUniqueKey:
    table: TableId
    columns: tuple[str, ...]


DdlOp = (CreateTable | DropTable | RenameTable | TruncateTable | RenameColumn | DropColumn | AddColumn
         | AlterColumn | SetPrimaryKey | AddUniqueKey)

# Does the target column already have the type the canonical column maps to?
SameType = Callable[[TargetColumn, ColumnSchema], bool]
# The target's shape of a table, or None when it does not exist.
Inspect = Callable[[TableId], TargetShape | None]


# Statement text: only what a shape comparison cannot tell.

_IDENT = r"(?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_$\u0080-\uffff]+)"
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.|'')*'", re.S)
_KIND = [
    ("create", re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\b", re.I)),
    ("drop", re.compile(r"^DROP\s+(?:TEMPORARY\s+)?TABLES?\b", re.I)),
    ("truncate", re.compile(r"^TRUNCATE\b", re.I)),
    ("rename", re.compile(r"^RENAME\s+TABLES?\b", re.I)),
    ("alter", re.compile(r"^ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\b", re.I)),
]
_RENAME_PAIR = re.compile(rf"({_QUALIFIED})\s+TO\s+({_QUALIFIED})", re.I)
_ALTER_TABLE = re.compile(rf"^ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?({_QUALIFIED})", re.I)
_ALTER_RENAME = re.compile(
    rf"(?:^|,)\s*RENAME\s+(?!(?:COLUMN|INDEX|KEY|CONSTRAINT)\b)(?:(?:TO|AS)\s+)?({_QUALIFIED})", re.I)
_RENAME_COLUMN = re.compile(rf"\bRENAME\s+COLUMN\s+(?:IF\s+EXISTS\s+)?({_IDENT})\s+TO\s+({_IDENT})", re.I)
_CHANGE_COLUMN = re.compile(rf"\bCHANGE\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_IDENT})\s+({_IDENT})", re.I)


@dataclass(frozen=True)
class Statement:
    kind: str  # create, drop, truncate, rename, alter, other
    table_renames: tuple[tuple[str, str], ...] = ()  # (old, new) table names, unqualified
    column_renames: tuple[tuple[str, str], ...] = ()  # (old, new) column names


def unquote(identifier: str) -> str:
    """A MySQL (backticks) or ANSI (double quotes) identifier's name; a bare one as is."""
    if len(identifier) >= 2 and identifier[0] == identifier[-1] and identifier[0] in "`\"":
        quote = identifier[0]
        return identifier[1:-1].replace(quote * 2, quote)
    return identifier


def _table_name(qualified: str) -> str:
    """The table part of [database.]table."""
    parts = re.findall(_IDENT, qualified)
    return unquote(parts[-1]) if parts else qualified


def parse_statement(text: str) -> Statement:
    """What kind of statement this is, and which tables and columns it renames."""
    # Comments and string literals (defaults, COMMENT '...') must not be mistaken for clauses.
    clean = _STRINGS.sub("''", _COMMENTS.sub(" ", text or "")).strip()
    kind = next((name for name, pattern in _KIND if pattern.match(clean)), "other")
    table_renames: list[tuple[str, str]] = []
    column_renames: list[tuple[str, str]] = []
    if kind == "rename":
        body = re.sub(r"^RENAME\s+TABLES?\s+", "", clean, flags=re.I)
        table_renames = [(_table_name(old), _table_name(new)) for old, new in _RENAME_PAIR.findall(body)]
    elif kind == "alter":
        head = _ALTER_TABLE.match(clean)
        if head:
            clauses = clean[head.end():]
            renamed = _ALTER_RENAME.search(clauses)
            if renamed:
                table_renames = [(_table_name(head.group(1)), _table_name(renamed.group(1)))]
            for pattern in (_RENAME_COLUMN, _CHANGE_COLUMN):
                column_renames += [(unquote(old), unquote(new)) for old, new in pattern.findall(clauses)]
    return Statement(kind, tuple(table_renames), tuple(column_renames))


def plan(statement: str, schema: TableSchema | None, target: TableId, inspect: Inspect, same_type: SameType,
         source_name: str | None = None) -> list[DdlOp]:
    """The operations that bring the target in line with a DDL event.

    schema is the table's canonical schema after the statement (None: the table was dropped, or
    renamed away: then the target table is renamed the same way);
    target is where the event's table lives at the target; source_name is the event's table
    name at the source, used to tell which side of a rename target is. For a rename the other
    side's name is taken from the statement, in target's database.
    """
    parsed = parse_statement(statement)
    if schema is None:
        if parsed.table_renames:
            # Renamed away (RENAME TABLE t TO u, ALTER TABLE t RENAME TO u): the table lives on under the
            # new name, so the target table is renamed too, never dropped with its rows.
            name = source_name or target.name
            old_name, new_name = _rename_for(parsed.table_renames, name)
            new = TableId(target.database, new_name)
            if name == old_name and new != target:
                if inspect(target) is not None and inspect(new) is None:
                    return [RenameTable(target, new)]
                return []  # already renamed (a replay), or nothing to rename
        return [DropTable(target)]
    if not parsed.table_renames:
        return _after_rename(parsed, schema, target, inspect(target), same_type)
    name = source_name or target.name
    old_name, new_name = _rename_for(parsed.table_renames, name)
    if name == old_name:
        old, new = target, TableId(target.database, new_name)
    else:
        old, new = TableId(target.database, old_name), target
    old_shape = inspect(old) if old != new else None
    new_shape = inspect(new)
    if old_shape is not None and new_shape is None:
        return [RenameTable(old, new), *_after_rename(parsed, schema, new, old_shape, same_type)]
    # Already renamed (a replay), or the old table never reached the target.
    return _after_rename(parsed, schema, new, new_shape, same_type)


def _rename_for(pairs: Sequence[tuple[str, str]], name: str) -> tuple[str, str]:
    for old, new in pairs:
        if name in (old, new):
            return old, new
    return pairs[0]


def _after_rename(parsed: Statement, schema: TableSchema, target: TableId, shape: TargetShape | None,
                  same_type: SameType) -> list[DdlOp]:
    if shape is None:
        return [CreateTable(target, schema)]
    ops: list[DdlOp] = [TruncateTable(target)] if parsed.kind == "truncate" else []
    return ops + diff(shape, schema, target, same_type, parsed.column_renames)


def diff(shape: TargetShape, schema: TableSchema, target: TableId, same_type: SameType,
         column_renames: Sequence[tuple[str, str]] = ()) -> list[DdlOp]:
    """Column and key operations turning shape into schema (renames, drops, adds, alters, keys)."""
    new_names = list(schema.column_names)
    working = list(shape.column_names)  # current names, updated as renames are planned
    origin = {name: name for name in working}  # working name -> name in shape
    renames: list[tuple[str, str]] = []

    def rename(old: str, new: str) -> None:
        working[working.index(old)] = new
        origin[new] = origin.pop(old)
        renames.append((old, new))

    for old, new in column_renames:
        if old in working and old not in new_names and new in new_names and new not in working:
            rename(old, new)
    dropped = [name for name in working if name not in new_names]
    added = [name for name in new_names if name not in working]
    if len(dropped) == 1 and len(added) == 1:
        old, new = dropped[0], added[0]
        current = shape.column(origin[old])
        if (working.index(old) == new_names.index(new) and current is not None
                and same_type(current, schema.column(new))):
            rename(old, new)
            dropped, added = [], []

    ops: list[DdlOp] = [RenameColumn(target, old, new) for old, new in renames]
    ops += [DropColumn(target, name) for name in dropped]
    for name in added:
        position = new_names.index(name)
        ops.append(AddColumn(target, schema.column(name), new_names[position - 1] if position else None))
    for column in schema.columns:
        if column.name in added:
            continue
        current = shape.column(origin[column.name])
        assert current is not None
        type_changed = not same_type(current, column)
        nullable_changed = current.nullable != column.nullable
        if type_changed or nullable_changed:
            ops.append(AlterColumn(target, column, current, type_changed, nullable_changed))

    names_after = {origin[name]: name for name in working if name in new_names}
    current_pk = tuple(names_after.get(name, "") for name in shape.primary_key)
    if current_pk != tuple(schema.primary_key):
        ops.append(SetPrimaryKey(target, tuple(schema.primary_key)))
    current_unique = {tuple(names_after.get(name, "") for name in key) for key in shape.unique_keys}
    for key in schema.unique_keys:
        if tuple(key) not in current_unique and tuple(key) != tuple(schema.primary_key):
            ops.append(AddUniqueKey(target, tuple(key)))
    return ops


def shape_differences(shape: TargetShape, schema: TableSchema, same_type: SameType) -> list[str]:
    """Why an existing target table cannot take the schema's rows as is, one line per difference."""
    problems: list[str] = []
    for column in schema.columns:
        current = shape.column(column.name)
        if current is None:
            problems.append(f"column {column.name!r} is missing at the target")
        elif not same_type(current, column):
            problems.append(f"column {column.name!r} is {current.type} at the target, "
                            f"the source's {column.type.describe()} needs another type")
        elif not current.nullable and column.nullable:
            problems.append(f"column {column.name!r} is NOT NULL at the target but nullable at the source")
    for current in shape.columns:
        if current.name not in schema.column_names:
            problems.append(f"column {current.name!r} exists only at the target")
    if tuple(shape.primary_key) != tuple(schema.primary_key):
        problems.append(f"the primary key is ({', '.join(shape.primary_key) or 'none'}) at the target, "
                        f"({', '.join(schema.primary_key) or 'none'}) at the source")
    return problems


def default_fits(ct: CanonicalType, value: object) -> bool:
    """Whether a column's default is a canonical value of its kind (so it can be written as a literal).

    Defaults that are expressions or the source's own text (CURRENT_TIMESTAMP, 'abc' with quotes)
    are not, and are never spliced into a target's DDL.
    """
    expected: dict[Kind, tuple[type, ...]] = {
        Kind.INT: (int,), Kind.YEAR: (int,), Kind.BIT: (int,), Kind.DECIMAL: (decimal.Decimal, int),
        Kind.FLOAT: (float, int), Kind.BOOL: (bool,), Kind.STRING: (str,), Kind.ENUM: (str,), Kind.SET: (str,),
        Kind.BYTES: (bytes,), Kind.DATE: (datetime.date,), Kind.DATETIME: (datetime.datetime,),
        Kind.TIMESTAMP: (datetime.datetime,), Kind.TIME: (datetime.timedelta,), Kind.UUID: (uuid.UUID,)}
    if isinstance(value, bool) and ct.kind is not Kind.BOOL:
        return False
    if ct.kind is Kind.DATE and isinstance(value, datetime.datetime):
        return False
    return isinstance(value, expected.get(ct.kind, ()))
