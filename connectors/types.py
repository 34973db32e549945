"""Canonical column types: the one vocabulary between every source and every sink.

A source maps its native types to these; a sink maps these to its own DDL and values. The same
definitions drive schema migration, change apply and compare normalisation, so a value that
round-trips through the canonical type compares equal on both sides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(str, enum.Enum):
    INT = "int"  # bits 8/16/24/32/64, signed or unsigned
    DECIMAL = "decimal"  # precision, scale
    FLOAT = "float"  # bits 32 or 64
    BOOL = "bool"
    BIT = "bit"  # length in bits; values are int
    STRING = "string"  # length in characters, or None for unbounded
    BYTES = "bytes"  # length in bytes, or None for unbounded
    ENUM = "enum"  # values: the labels
    SET = "set"  # values: the labels; a value is the comma-joined string, as MySQL shows it
    JSON = "json"  # values are JSON text
    DATE = "date"
    TIME = "time"  # a duration: may be negative or over 24 h (MySQL TIME); values are timedelta
    DATETIME = "datetime"  # no time zone; fsp = fractional digits
    TIMESTAMP = "timestamp"  # an instant, in UTC; fsp = fractional digits
    YEAR = "year"
    UUID = "uuid"
    UNKNOWN = "unknown"  # refused by schema migration unless the task maps it explicitly


@dataclass(frozen=True)
class CanonicalType:
    kind: Kind
    bits: int | None = None  # INT, FLOAT
    unsigned: bool = False  # INT
    precision: int | None = None  # DECIMAL
    scale: int | None = None  # DECIMAL
    length: int | None = None  # STRING, BYTES (None = unbounded), BIT
    fixed: bool = False  # STRING/BYTES of fixed length (CHAR, BINARY)
    fsp: int = 0  # DATETIME, TIMESTAMP, TIME fractional seconds digits
    values: tuple[str, ...] = ()  # ENUM, SET labels
    native: str = ""  # the source's own type text, kept for same-engine targets and messages

    def describe(self) -> str:
        return self.native or self.kind.value


@dataclass(frozen=True)
class TableId:
    """A table's address: database (MySQL) or schema (PostgreSQL), and name."""

    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"

    @classmethod
    def parse(cls, text: str) -> TableId:
        database, sep, name = text.partition(".")
        if not sep or not database or not name:
            raise ValueError(f"table {text!r} must be written as database.table")
        return cls(database, name)


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: CanonicalType
    nullable: bool = True
    default: Any = None


@dataclass(frozen=True)
class TableSchema:
    """A table's columns and keys at one moment; rows are tuples in this column order."""

    table: TableId
    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key, or failing that the first unique key whose columns are all NOT NULL."""
        if self.primary_key:
            return self.primary_key
        nullable = {c.name for c in self.columns if c.nullable}
        for unique in self.unique_keys:
            if not nullable.intersection(unique):
                return unique
        return ()

    def key_indexes(self) -> tuple[int, ...]:
        names = self.column_names
        return tuple(names.index(column) for column in self.key_columns)

    def column(self, name: str) -> ColumnSchema:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.table} has no column {name!r}")
