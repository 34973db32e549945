"""Canonical types to PostgreSQL types, and the CREATE/ALTER statements the PostgreSQL sink runs.

Type mapping (every value read back equals the value written, after the normalisation noted):

| canonical                      | PostgreSQL                       | notes                                      |
|--------------------------------|----------------------------------|--------------------------------------------|
| INT 8 (signed, unsigned), 16   | smallint                         |                                            |
| INT 16 unsigned, 24, 32        | integer                          |                                            |
| INT 32 unsigned, 64            | bigint                           |                                            |
| INT 64 unsigned                | numeric(20,0)                    | to 18446744073709551615; reads as Decimal  |
| DECIMAL(p,s)                   | numeric(p,s)                     | DECIMAL(65,30) fits                        |
| DECIMAL without precision      | numeric                          |                                            |
| FLOAT 32 / 64                  | real / double precision          | beyond real's range: dirty, never inf      |
| BOOL                           | boolean                          |                                            |
| BIT(n)                         | bit(n)                           | int <-> n-digit bit string (1)             |
| STRING(n), CHAR or VARCHAR     | varchar(n)                       | never char(n): it pads with spaces         |
| STRING unbounded, or n = 0     | text                             |                                            |
| BYTES, any length              | bytea                            | trailing zero bytes kept                   |
| ENUM(labels)                   | varchar(longest label)           | the label text (2)                         |
| SET(labels)                    | text                             | comma-joined labels, as MySQL shows them   |
| JSON                           | jsonb                            | equal JSON back (3)                        |
| DATE                           | date                             |                                            |
| TIME                           | interval                         | negative and > 24 h kept (-838:59:59)      |
| DATETIME(fsp)                  | timestamp(fsp) without time zone |                                            |
| TIMESTAMP(fsp)                 | timestamp(fsp) with time zone    | an instant; reads back aware               |
| YEAR                           | smallint                         |                                            |
| UUID                           | uuid                             |                                            |
| UNKNOWN                        | refused                          | the error names table and column           |

(1) bit(n), not bit varying(n): MySQL's BIT(n) is fixed-width, and a fixed width gives each
    int exactly one bit string (5 in bit(4) is always '0101'), so compare and read-back are
    unambiguous; int(text, 2) reads it back. Widening keeps the numeric value (USING ::bigint).
(2) No CREATE TYPE: adding a label at the source is then at most a varchar length change, and
    the text compares equal to the source's label.
(3) jsonb normalises (key order, whitespace, duplicate keys): json.loads of both sides is equal.

NUL characters cannot be stored in text, varchar or jsonb: such rows are dirty (see
connectors.quarantine). Identifiers keep the source's names exactly (quoted). Column defaults are
not copied: the sink always writes every column; only an added column gets its default (or, NOT
NULL without one, the zero value MySQL gives existing rows) so existing rows hold what they hold
at the source.

The type text is spelled as PostgreSQL's format_type() prints it, so comparing it with an
introspected column tells whether the column already has the right type.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
from collections.abc import Callable
from typing import Any

from psycopg import sql

from connectors.errors import ConnectorError
from connectors.sql_ddl import (
    AddColumn,
    AddUniqueKey,
    AlterColumn,
    CreateTable,
    DdlOp,
    DropColumn,
    DropTable,
    RenameColumn,
    RenameTable,
    SetPrimaryKey,
    TargetColumn,
    TruncateTable,
    default_fits,
)
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

MAX_VARCHAR = 10_485_760  # PostgreSQL's limit for varchar(n)
MAX_IDENTIFIER = 63  # bytes; PostgreSQL truncates longer names


class UnsupportedType(ConnectorError):
    """A canonical type the PostgreSQL sink cannot store faithfully."""


def column_types(column: ColumnSchema, table: TableId) -> tuple[str, str]:
    """(column type as format_type spells it, type name for binary COPY) for a canonical column."""
    ct = column.type
    kind = ct.kind
    if kind is Kind.INT:
        bits = ct.bits or 64
        if bits <= 8 or (bits == 16 and not ct.unsigned):
            return "smallint", "int2"
        if bits < 32 or (bits == 32 and not ct.unsigned):
            return "integer", "int4"
        if bits < 64 or not ct.unsigned:
            return "bigint", "int8"
        return "numeric(20,0)", "numeric"
    if kind is Kind.DECIMAL:
        if ct.precision is None:
            return "numeric", "numeric"
        return f"numeric({ct.precision},{ct.scale or 0})", "numeric"
    if kind is Kind.FLOAT:
        return ("real", "float4") if ct.bits == 32 else ("double precision", "float8")
    if kind is Kind.BOOL:
        return "boolean", "bool"
    if kind is Kind.BIT:
        return f"bit({bit_length(ct)})", "bit"
    if kind is Kind.STRING:
        if ct.length is None or ct.length < 1 or ct.length > MAX_VARCHAR:
            return "text", "text"
        return f"character varying({ct.length})", "varchar"
    if kind is Kind.BYTES:
        return "bytea", "bytea"
    if kind is Kind.ENUM:
        longest = max((len(label) for label in ct.values), default=0)
        return (f"character varying({longest})", "varchar") if longest else ("text", "text")
    if kind is Kind.SET:
        return "text", "text"
    if kind is Kind.JSON:
        return "jsonb", "jsonb"
    if kind is Kind.DATE:
        return "date", "date"
    if kind is Kind.TIME:
        return "interval", "interval"
    if kind is Kind.DATETIME:
        return f"timestamp({ct.fsp}) without time zone", "timestamp"
    if kind is Kind.TIMESTAMP:
        return f"timestamp({ct.fsp}) with time zone", "timestamptz"
    if kind is Kind.YEAR:
        return "smallint", "int2"
    if kind is Kind.UUID:
        return "uuid", "uuid"
    raise UnsupportedType(
        f"table {table}: column {column.name!r} has a type PostgreSQL cannot store faithfully "
        f"({ct.describe()}, canonical kind {kind.value})",
        hint="map the column to a supported type in the task's column mapping, or leave the column out")


def column_type(column: ColumnSchema, table: TableId) -> str:
    return column_types(column, table)[0]


def bit_length(ct: CanonicalType) -> int:
    return ct.length or 1


def same_type(current: TargetColumn, column: ColumnSchema) -> bool:
    """Whether an existing column (introspected with format_type) already has the mapped type."""
    return current.type == column_types(column, TableId("", ""))[0]


def check_types(schema: TableSchema, target: TableId | None = None) -> None:
    """Refuse, before anything is created, a column PostgreSQL cannot hold or a name it would cut short."""
    for column in schema.columns:
        column_types(column, schema.table)
    names = [column.name for column in schema.columns]
    if target is not None:
        names += [target.database, target.name]
    for name in names:
        if len(name.encode()) > MAX_IDENTIFIER:
            raise UnsupportedType(
                f"table {schema.table}: the name {name!r} is longer than PostgreSQL's {MAX_IDENTIFIER} bytes, "
                "and PostgreSQL would silently shorten it",
                hint="map the table or column to a shorter name in the task")


def qualified(table: TableId) -> sql.Identifier:
    return sql.Identifier(table.database, table.name)


def param_ident(name: str) -> sql.SQL:
    """A quoted identifier for a query that also carries %s placeholders: a '%' in the name is doubled."""
    return sql.SQL(sql.Identifier(name).as_string(None).replace("%", "%%"))


def param_qualified(table: TableId) -> sql.SQL:
    return sql.SQL(qualified(table).as_string(None).replace("%", "%%"))


def _columns_sql(schema: TableSchema, target: TableId, *, constraints: bool = True) -> list[sql.Composed]:
    return [sql.SQL("{} {}{}").format(sql.Identifier(column.name), sql.SQL(column_type(column, target)),
                                      sql.SQL(" NOT NULL" if constraints and not column.nullable else ""))
            for column in schema.columns]


def create_schema(name: str) -> sql.Composed:
    """Run only when the schema is missing: PostgreSQL checks the CREATE privilege even with IF NOT EXISTS."""
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name))


def create_table(schema: TableSchema, target: TableId, *, unique_keys: bool = True) -> list[sql.Composed]:
    """CREATE TABLE with the primary key, then the unique keys (unless deferred) as unique indexes.

    Without a primary key, the schema's key (the first all-NOT-NULL unique key) is still a unique
    index: the sink's upserts need it as their ON CONFLICT arbiter.
    """
    parts = _columns_sql(schema, target)
    if schema.primary_key:
        parts.append(sql.SQL("PRIMARY KEY ({})").format(_names(schema.primary_key)))
    statements: list[sql.Composed] = [
        sql.SQL("CREATE TABLE {} ({})").format(qualified(target), sql.SQL(", ").join(parts))]
    for key in index_keys(schema, all_unique=unique_keys):
        statements.append(create_unique_index(target, key))
    return statements


def index_keys(schema: TableSchema, *, all_unique: bool = True) -> list[tuple[str, ...]]:
    """Unique indexes the table gets besides its primary key (only the PK-equivalent key if not all)."""
    keys: list[tuple[str, ...]] = []
    if not schema.primary_key and schema.key_columns:
        keys.append(tuple(schema.key_columns))
    if all_unique:
        keys += [tuple(key) for key in schema.unique_keys
                 if tuple(key) != tuple(schema.primary_key) and tuple(key) not in keys]
    return keys


def create_unique_index(target: TableId, key: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})").format(
        sql.Identifier(unique_index_name(target, key)), qualified(target), _names(key))


def unique_index_name(target: TableId, key: tuple[str, ...]) -> str:
    """A deterministic index name within PostgreSQL's 63 bytes (a hash keeps long ones distinct)."""
    name = f"{target.name}_{'_'.join(key)}_key"
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]  # noqa: S324 - a name, not security
    prefix = name.encode()[:MAX_IDENTIFIER - 11].decode(errors="ignore")
    return f"{prefix}_{digest}"


def _names(names: tuple[str, ...] | list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def add_column_default(column: ColumnSchema) -> Any:
    """The value existing rows get for an added column: its default, or (NOT NULL) MySQL's implicit one.

    MySQL fills existing rows itself and writes nothing to the binlog for them, so the target
    must use the same value. Returns None when there is nothing safe to use (the column is then
    added as declared, and PostgreSQL refuses it if the table has rows).
    """
    ct = column.type
    default = column.default
    if default is not None and default_fits(ct, default):
        return default  # nullable or not: the rows already at the source hold it
    if column.nullable:
        return None
    implicit: dict[Kind, Any] = {Kind.INT: 0, Kind.DECIMAL: decimal.Decimal(0), Kind.FLOAT: 0.0, Kind.BIT: 0,
                                 Kind.BOOL: False, Kind.STRING: "", Kind.SET: "", Kind.BYTES: b"", Kind.YEAR: 0,
                                 Kind.TIME: datetime.timedelta(0)}
    if ct.kind is Kind.ENUM and ct.values:
        return ct.values[0]
    return implicit.get(ct.kind)


def default_literal(column: ColumnSchema, value: Any) -> sql.Composed:
    """A default value as an SQL literal cast to the column's type (bits as a bit string)."""
    if column.type.kind is Kind.BIT:
        value = format(value, f"0{bit_length(column.type)}b")
    return sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(column_type(column, TableId("", ""))))


def render(op: DdlOp, primary_key_name: Callable[[TableId], str | None]) -> list[sql.Composed]:
    """The statements for one planned operation (run in one transaction with the rest of the plan)."""
    if isinstance(op, CreateTable):
        return create_table(op.schema, op.table)
    if isinstance(op, DropTable):
        return [sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(op.table))]
    if isinstance(op, RenameTable):
        statements: list[sql.Composed] = []
        if op.new.database != op.table.database:
            statements.append(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(qualified(op.table),
                                                                            sql.Identifier(op.new.database)))
        moved = TableId(op.new.database, op.table.name)
        if op.new.name != op.table.name:
            statements.append(sql.SQL("ALTER TABLE {} RENAME TO {}").format(qualified(moved),
                                                                           sql.Identifier(op.new.name)))
        return statements
    if isinstance(op, TruncateTable):
        return [sql.SQL("TRUNCATE TABLE {}").format(qualified(op.table))]
    if isinstance(op, RenameColumn):
        return [sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
            qualified(op.table), sql.Identifier(op.old), sql.Identifier(op.new))]
    if isinstance(op, DropColumn):
        return [sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(qualified(op.table),
                                                                         sql.Identifier(op.name))]
    if isinstance(op, AddColumn):
        return [_add_column(op)]
    if isinstance(op, AlterColumn):
        return _alter_column(op)
    if isinstance(op, SetPrimaryKey):
        statements = []
        name = primary_key_name(op.table)
        if name:
            statements.append(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(qualified(op.table),
                                                                                 sql.Identifier(name)))
        if op.columns:
            statements.append(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(qualified(op.table),
                                                                                   _names(op.columns)))
        return statements
    if isinstance(op, AddUniqueKey):
        return [create_unique_index(op.table, op.columns)]
    raise TypeError(f"unknown DDL operation {op!r}")


def _add_column(op: AddColumn) -> sql.Composed:
    column = op.column
    default = add_column_default(column)
    return sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}{}{}").format(
        qualified(op.table), sql.Identifier(column.name), sql.SQL(column_type(column, op.table)),
        sql.SQL(" DEFAULT {}").format(default_literal(column, default)) if default is not None else sql.SQL(""),
        sql.SQL(" NOT NULL" if not column.nullable else ""))


def _alter_column(op: AlterColumn) -> list[sql.Composed]:
    table, name = qualified(op.table), sql.Identifier(op.column.name)
    statements: list[sql.Composed] = []
    if op.type_changed:
        new_type = column_type(op.column, op.table)
        using = sql.SQL("{}::{}").format(name, sql.SQL(new_type))
        if op.column.type.kind is Kind.BIT and op.current.type.startswith("bit"):
            # A bit-string cast pads or cuts on the right; MySQL keeps the numeric value.
            using = sql.SQL("{}::bigint::{}").format(name, sql.SQL(new_type))
        statements.append(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}").format(
            table, name, sql.SQL(new_type), using))
    if op.nullable_changed:
        statements.append(sql.SQL("ALTER TABLE {} ALTER COLUMN {} {}").format(
            table, name, sql.SQL("DROP NOT NULL" if op.column.nullable else "SET NOT NULL")))
    return statements


def staging_table(schema: TableSchema, target: TableId, name: str, flag: str) -> sql.Composed:
    """A session-local staging table for write(): the columns without constraints, plus a delete flag."""
    columns = _columns_sql(schema, target, constraints=False)
    columns.append(sql.SQL("{} boolean").format(sql.Identifier(flag)))
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
        sql.Identifier(name), sql.SQL(", ").join(columns))
