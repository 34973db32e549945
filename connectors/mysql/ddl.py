"""Canonical types to MySQL/MariaDB types, and the CREATE/ALTER statements the MySQL sink runs.

From a MySQL source (ConnectionConfig.options["source_engine"] == "mysql"), a column whose
``type.native`` is set keeps that type text verbatim, provided it matches a whitelist of plain
MySQL type spellings and agrees with the canonical kind (a DATETIME turned into STRING by the
zero-date policy is not created as DATETIME). ENUM and SET are always rebuilt from their labels,
each label a string literal escaped by the driver's escaping: type text is never spliced into
SQL unchecked. Otherwise:

| canonical                   | MySQL                                   | notes                                  |
|-----------------------------|-----------------------------------------|----------------------------------------|
| INT 8 / 16 / 24 / 32 / 64   | TINYINT / SMALLINT / MEDIUMINT / INT / BIGINT | UNSIGNED kept                    |
| DECIMAL(p,s)                | DECIMAL(p,s)                            | p <= 65, s <= 30, else refused         |
| DECIMAL without precision   | DECIMAL(65,30)                          | more digits are dirty, never rounded   |
| FLOAT 32 / 64               | FLOAT / DOUBLE                          | inf and NaN are dirty                  |
| BOOL                        | TINYINT(1)                              | reads back 0/1                         |
| BIT(n), n <= 64             | BIT(n)                                  | n > 64 refused                         |
| STRING(n), n <= 255 or key  | VARCHAR(n)                              | never CHAR: it strips trailing spaces  |
| STRING(n) longer            | TEXT / MEDIUMTEXT / LONGTEXT by 4n bytes | keeps the 65,535-byte row limit       |
| STRING unbounded            | LONGTEXT (VARCHAR(768) in a key)        |                                        |
| BYTES(n), n <= 255 or key   | VARBINARY(n)                            | never BINARY: it pads with zero bytes  |
| BYTES longer / unbounded    | BLOB / MEDIUMBLOB / LONGBLOB (VARBINARY(3072) in a key) |                        |
| ENUM(labels) / SET(labels)  | ENUM(...) / SET(...)                    | labels escaped by the driver           |
| JSON                        | JSON                                    | MariaDB: LONGTEXT + json_valid() check |
| DATE                        | DATE                                    |                                        |
| TIME(fsp)                   | TIME(fsp)                               | -838:59:59 to 838:59:59                |
| DATETIME(fsp)               | DATETIME(fsp)                           |                                        |
| TIMESTAMP(fsp)              | TIMESTAMP(fsp)                          | session time_zone '+00:00'; 1970-2038  |
| YEAR                        | YEAR                                    |                                        |
| UUID                        | CHAR(36)                                | the canonical text form                |
| UNKNOWN                     | refused                                 | the error names table and column       |

Tables are InnoDB, DEFAULT CHARSET utf8mb4; the collation is options["collation"] when set,
else the server's default for a MySQL source and utf8mb4_bin otherwise (a PostgreSQL source
tells 'a' from 'A' in keys, so the target must too). Values outside a target column's range
are dirty rows (the session runs in strict mode), never clipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection

from pymysql.converters import escape_string

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

VARCHAR_MAX_INLINE = 255  # longer non-key strings become TEXT types: the row size limit is 65,535 bytes
KEY_BYTES = 3072  # InnoDB's index key limit (DYNAMIC rows), shared by every column of one key
KEY_VARCHAR = KEY_BYTES // 4  # utf8mb4 characters in a key made of one string column
KEY_VARBINARY = KEY_BYTES
MAX_IDENTIFIER = 64

_INT_TYPES = {8: "TINYINT", 16: "SMALLINT", 24: "MEDIUMINT", 32: "INT", 64: "BIGINT"}
_ATTRS = r"(?:\s+unsigned)?(?:\s+zerofill)?"
# Plain MySQL type spellings a native type text may have to be used verbatim, by canonical kind.
_NATIVE: dict[Kind, re.Pattern[str]] = {kind: re.compile(pattern, re.I) for kind, pattern in {
    Kind.INT: rf"(?:tinyint|smallint|mediumint|int|integer|bigint)(?:\(\d{{1,3}}\))?{_ATTRS}",
    Kind.BOOL: r"(?:tinyint\(1\)|bool|boolean)",
    Kind.DECIMAL: rf"(?:decimal|numeric|dec|fixed)(?:\(\d{{1,2}}(?:,\s*\d{{1,2}})?\))?{_ATTRS}",
    Kind.FLOAT: rf"(?:float|double(?:\s+precision)?|real)(?:\(\d{{1,3}}(?:,\s*\d{{1,3}})?\))?{_ATTRS}",
    Kind.BIT: r"bit(?:\(\d{1,2}\))?",
    Kind.STRING: r"(?:(?:char|varchar)\(\d{1,5}\)|(?:tiny|medium|long)?text)",
    Kind.BYTES: r"(?:(?:binary|varbinary)\(\d{1,5}\)|(?:tiny|medium|long)?blob)",
    Kind.DATE: r"date",
    Kind.TIME: r"time(?:\([0-6]\))?",
    Kind.DATETIME: r"datetime(?:\([0-6]\))?",
    Kind.TIMESTAMP: r"timestamp(?:\([0-6]\))?",
    Kind.YEAR: r"year(?:\(4\))?",
    Kind.JSON: r"json",
}.items()}


class UnsupportedType(ConnectorError):
    """A canonical type the MySQL sink cannot store faithfully."""


def quote_ident(name: str) -> str:
    """A backtick-quoted identifier, backticks doubled."""
    return "`" + name.replace("`", "``") + "`"


def qualified(table: TableId) -> str:
    return f"{quote_ident(table.database)}.{quote_ident(table.name)}"


def quote_string(value: str) -> str:
    """A string literal with the driver's escaping (the session never sets NO_BACKSLASH_ESCAPES)."""
    return "'" + escape_string(value) + "'"


def native_type(ct: CanonicalType) -> str | None:
    """The source's type text when it is a whitelisted spelling agreeing with the canonical kind."""
    pattern = _NATIVE.get(ct.kind)
    text = ct.native.strip()
    if pattern is None or not text or pattern.fullmatch(text) is None:
        return None
    return text


def column_type(column: ColumnSchema, table: TableId, *, native: bool = False, key: bool = False,
                key_units: int | None = None) -> str:
    """The MySQL type for a canonical column (native: use a MySQL source's own type text).

    key_units: for an unbounded string or bytes key column, its share of the key's bytes (characters
    for strings); longer values are then refused as dirty rows instead of failing the CREATE TABLE.
    """
    ct = column.type
    kind = ct.kind
    if native and (text := native_type(ct)) is not None:
        return text
    if kind is Kind.INT:
        base = _INT_TYPES.get(ct.bits or 64)
        if base is None:
            base = "BIGINT" if (ct.bits or 64) > 32 else "INT"
        return base + (" UNSIGNED" if ct.unsigned else "")
    if kind is Kind.DECIMAL:
        precision = 65 if ct.precision is None else ct.precision
        scale = 30 if ct.precision is None else (ct.scale or 0)
        if precision > 65 or scale > 30:
            raise _unsupported(column, table, "MySQL's DECIMAL holds at most 65 digits, 30 after the point")
        return f"DECIMAL({precision},{scale})"
    if kind is Kind.FLOAT:
        return "FLOAT" if ct.bits == 32 else "DOUBLE"
    if kind is Kind.BOOL:
        return "TINYINT(1)"
    if kind is Kind.BIT:
        length = ct.length or 1
        if length > 64:
            raise _unsupported(column, table, "MySQL's BIT holds at most 64 bits")
        return f"BIT({length})"
    if kind is Kind.STRING:
        return _sized(ct.length, key, "VARCHAR", key_units or KEY_VARCHAR, 4, ("TEXT", "MEDIUMTEXT", "LONGTEXT"))
    if kind is Kind.BYTES:
        return _sized(ct.length, key, "VARBINARY", key_units or KEY_VARBINARY, 1, ("BLOB", "MEDIUMBLOB", "LONGBLOB"))
    if kind is Kind.ENUM:
        if not ct.values:
            return "VARCHAR(255)"
        return "ENUM(" + ",".join(quote_string(label) for label in ct.values) + ")"
    if kind is Kind.SET:
        if not ct.values or len(ct.values) > 64 or any("," in label for label in ct.values):
            return "TEXT"
        return "SET(" + ",".join(quote_string(label) for label in ct.values) + ")"
    if kind is Kind.JSON:
        return "JSON"
    if kind is Kind.DATE:
        return "DATE"
    if kind in (Kind.TIME, Kind.DATETIME, Kind.TIMESTAMP):
        return f"{kind.value.upper()}({min(ct.fsp, 6)})" if ct.fsp else kind.value.upper()
    if kind is Kind.YEAR:
        return "YEAR"
    if kind is Kind.UUID:
        return "CHAR(36)"
    raise _unsupported(column, table, f"canonical kind {kind.value}")


def _sized(length: int | None, key: bool, inline: str, key_limit: int, bytes_per_unit: int,
           lobs: tuple[str, str, str]) -> str:
    if length is not None and (length <= VARCHAR_MAX_INLINE or (key and length <= key_limit)):
        return f"{inline}({length})"
    if key:  # TEXT/BLOB cannot be a whole-value key part
        return f"{inline}({key_limit})"
    if length is None:
        return lobs[2]
    size = length * bytes_per_unit
    return lobs[0] if size <= 65_535 else lobs[1] if size <= 16_777_215 else lobs[2]


def _unsupported(column: ColumnSchema, table: TableId, why: str) -> UnsupportedType:
    return UnsupportedType(
        f"table {table}: column {column.name!r} has a type MySQL cannot store faithfully "
        f"({column.type.describe()}: {why})",
        hint="map the column to a supported type in the task's column mapping, or leave the column out")


def key_columns(schema: TableSchema) -> set[str]:
    """Columns in any key: they need an indexable type (VARCHAR, not TEXT)."""
    names = set(schema.primary_key) | set(schema.key_columns)
    for key in schema.unique_keys:
        names.update(key)
    return names


def _fixed_key_bytes(column: ColumnSchema) -> int | None:
    """Bytes a key column takes when its size is known; None for a string or bytes column without one."""
    ct = column.type
    if ct.kind in (Kind.STRING, Kind.BYTES):
        per_unit = 4 if ct.kind is Kind.STRING else 1
        limit = KEY_VARCHAR if ct.kind is Kind.STRING else KEY_VARBINARY
        return ct.length * per_unit if ct.length is not None and ct.length <= limit else None
    if ct.kind is Kind.UUID:
        return 36 * 4
    if ct.kind in (Kind.ENUM, Kind.SET) and not ct.values:
        return 255 * 4
    return 16  # numbers, dates, times, enums: a few bytes each


def key_shares(schema: TableSchema) -> dict[str, int]:
    """For string/bytes key columns without a usable length: the characters (bytes) each may use, so
    that every key of the table fits InnoDB's 3,072 bytes (a PostgreSQL text key of two columns, say)."""
    shares: dict[str, int] = {}
    for key in [schema.primary_key, *schema.unique_keys]:
        columns = [schema.column(name) for name in key]
        sizes = {c.name: _fixed_key_bytes(c) for c in columns}
        open_ended = [c for c in columns if sizes[c.name] is None]
        if not open_ended:
            continue
        budget = max(KEY_BYTES - sum(size for size in sizes.values() if size is not None), len(open_ended) * 4)
        for column in open_ended:
            units = budget // len(open_ended) // (4 if column.type.kind is Kind.STRING else 1)
            shares[column.name] = min(units, shares.get(column.name, units))
    return shares


class TypeMapper:
    """Maps one schema's columns (key columns and the native option decide the type)."""

    def __init__(self, schema: TableSchema, *, native: bool) -> None:
        self.schema = schema
        self.native = native
        self.keys = key_columns(schema)
        self.key_units = key_shares(schema)

    def type_of(self, column: ColumnSchema) -> str:
        return column_type(column, self.schema.table, native=self.native, key=column.name in self.keys,
                           key_units=self.key_units.get(column.name))

    def check(self, target: TableId | None = None) -> None:
        """Refuse, before anything is created, a column MySQL cannot hold or a name longer than it allows."""
        for column in self.schema.columns:
            self.type_of(column)
        names = [column.name for column in self.schema.columns]
        if target is not None:
            names += [target.database, target.name]
        for name in names:
            if len(name) > MAX_IDENTIFIER:
                raise UnsupportedType(f"table {self.schema.table}: the name {name!r} is longer than MySQL's "
                                      f"{MAX_IDENTIFIER} characters",
                                      hint="map the table or column to a shorter name in the task")

    def same_type(self, current: TargetColumn, column: ColumnSchema) -> bool:
        mapped = self.type_of(column)
        if mapped.startswith(("ENUM(", "SET(")):  # compare labels, not their escaping
            return _labels_of(current.type) == (column.type.kind.value, tuple(column.type.values))
        return normalize_type(current.type) == normalize_type(mapped)


def normalize_type(text: str) -> str:
    """Type text as comparable as the catalog allows: no display widths, aliases resolved."""
    value = " ".join(text.lower().split())
    value = re.sub(r"\b(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)", r"\1", value)
    value = re.sub(r"\binteger\b", "int", value)
    value = re.sub(r"\b(time|datetime|timestamp)\(0\)", r"\1", value)
    value = re.sub(r"\byear\(4\)", "year", value)
    value = re.sub(r"\b(bool|boolean)\b", "tinyint", value)
    value = re.sub(r"\b(numeric|dec|fixed)\b", "decimal", value)
    value = re.sub(r"\bdecimal(?!\()", "decimal(10,0)", value)
    value = re.sub(r"\bdecimal\((\d+)\)", r"decimal(\1,0)", value)
    value = re.sub(r"\bdouble precision\b|\breal\b", "double", value)
    value = re.sub(r"\bjson\b", "longtext", value)  # MariaDB reports JSON as LONGTEXT
    return value.replace(", ", ",")


def _labels_of(type_text: str) -> tuple[str, tuple[str, ...]] | None:
    match = re.fullmatch(r"\s*(enum|set)\s*\((.*)\)\s*", type_text, re.I | re.S)
    if match is None:
        return None
    labels = tuple(part.replace("''", "'").replace("\\\\", "\\")
                   for part in re.findall(r"'((?:[^'\\]|''|\\.)*)'", match.group(2)))
    return match.group(1).lower(), labels


def unique_key_name(key: tuple[str, ...]) -> str:
    name = "uk_" + "_".join(key)
    if len(name) <= MAX_IDENTIFIER:
        return name
    return name[:MAX_IDENTIFIER - 11] + "_" + hashlib.sha1(name.encode()).hexdigest()[:10]  # noqa: S324


def create_database(name: str) -> str:
    """Run only when the database is missing: MySQL checks the CREATE privilege even with IF NOT EXISTS."""
    return f"CREATE DATABASE IF NOT EXISTS {quote_ident(name)} CHARACTER SET utf8mb4"


def _column_sql(mapper: TypeMapper, column: ColumnSchema) -> str:
    type_text = mapper.type_of(column)
    # TIMESTAMP columns get an explicit NULL: with explicit_defaults_for_timestamp off, MySQL would
    # otherwise make the first one NOT NULL with ON UPDATE CURRENT_TIMESTAMP.
    null = " NOT NULL" if not column.nullable else (" NULL" if column.type.kind is Kind.TIMESTAMP else "")
    return f"{quote_ident(column.name)} {type_text}{null}"


def create_table(schema: TableSchema, target: TableId, mapper: TypeMapper, *, collation: str | None,
                 unique_keys: bool = True) -> str:
    parts = [_column_sql(mapper, column) for column in schema.columns]
    if schema.primary_key:
        parts.append(f"PRIMARY KEY ({_names(schema.primary_key)})")
    for key in index_keys(schema, all_unique=unique_keys):
        parts.append(f"UNIQUE KEY {quote_ident(unique_key_name(key))} ({_names(key)})")
    options = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" + (f" COLLATE={_collation(collation)}" if collation else "")
    return f"CREATE TABLE {qualified(target)} ({', '.join(parts)}) {options}"


def _collation(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_]+", name) is None:
        raise ConnectorError(f"invalid collation name {name!r}", hint="use a collation such as utf8mb4_bin")
    return name


def index_keys(schema: TableSchema, *, all_unique: bool = True) -> list[tuple[str, ...]]:
    """Unique keys besides the primary key (only the PK-equivalent one when not all)."""
    keys: list[tuple[str, ...]] = []
    if not schema.primary_key and schema.key_columns:
        keys.append(tuple(schema.key_columns))
    if all_unique:
        keys += [tuple(key) for key in schema.unique_keys
                 if tuple(key) != tuple(schema.primary_key) and tuple(key) not in keys]
    return keys


def add_unique_key(target: TableId, key: tuple[str, ...]) -> str:
    return f"ALTER TABLE {qualified(target)} ADD UNIQUE KEY {quote_ident(unique_key_name(key))} ({_names(key)})"


def _names(names: Collection[str]) -> str:
    return ", ".join(quote_ident(name) for name in names)


def render(op: DdlOp, mapper: TypeMapper, *, collation: str | None, has_primary_key: Callable[[TableId], bool],
           literal: Callable[[ColumnSchema, object], str]) -> list[str]:
    """The statements for one planned operation (MySQL DDL commits each on its own)."""
    if isinstance(op, CreateTable):
        return [create_table(op.schema, op.table, mapper, collation=collation)]
    if isinstance(op, DropTable):
        return [f"DROP TABLE IF EXISTS {qualified(op.table)}"]
    if isinstance(op, RenameTable):
        return [f"RENAME TABLE {qualified(op.table)} TO {qualified(op.new)}"]
    if isinstance(op, TruncateTable):
        return [f"TRUNCATE TABLE {qualified(op.table)}"]
    table = qualified(op.table)
    if isinstance(op, RenameColumn):
        column = mapper.schema.column(op.new)
        # CHANGE (not RENAME COLUMN) works on every MySQL and MariaDB version.
        return [f"ALTER TABLE {table} CHANGE COLUMN {quote_ident(op.old)} {_column_sql(mapper, column)}"]
    if isinstance(op, DropColumn):
        return [f"ALTER TABLE {table} DROP COLUMN {quote_ident(op.name)}"]
    if isinstance(op, AddColumn):
        column = op.column
        default = ""
        if column.default is not None and default_fits(column.type, column.default):
            default = " DEFAULT " + literal(column, column.default)
        place = f" AFTER {quote_ident(op.after)}" if op.after else " FIRST"
        return [f"ALTER TABLE {table} ADD COLUMN {_column_sql(mapper, column)}{default}{place}"]
    if isinstance(op, AlterColumn):
        return [f"ALTER TABLE {table} MODIFY COLUMN {_column_sql(mapper, op.column)}"]
    if isinstance(op, SetPrimaryKey):
        parts = ["DROP PRIMARY KEY"] if has_primary_key(op.table) else []
        if op.columns:
            parts.append(f"ADD PRIMARY KEY ({_names(op.columns)})")
        return [f"ALTER TABLE {table} {', '.join(parts)}"] if parts else []
    if isinstance(op, AddUniqueKey):
        return [add_unique_key(op.table, op.columns)]
    raise TypeError(f"unknown DDL operation {op!r}")
