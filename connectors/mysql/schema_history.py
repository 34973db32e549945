"""Table schemas over time: read from information_schema, and as of each binlog event.

information_schema only knows the schema now. A stream that is behind sees row events written
under older schemas, so the schema of a row event comes from its TABLE_MAP (binlog_row_metadata=FULL
gives column names and types): when the names and types agree with a schema read from
information_schema, that schema (with its native types, defaults, JSON detection and unique keys)
is used; otherwise a schema is derived from the TABLE_MAP itself, reusing the information_schema
description of every column whose name and type still agree. A row is therefore always decoded
by the layout it was written with and labelled with the columns it had then, never a later set.

information_schema is read at stream start and again after each DDL statement on the table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from connectors.mysql.binlog_rows import BinlogColumn, binlog_type, compatible
from connectors.mysql.catalog import mariadb_default
from connectors.mysql.types import apply_zero_date_policy, canonical_default, native_kind, parse_column_type
from connectors.types import ColumnSchema, TableId, TableSchema

log = logging.getLogger(__name__)

_JSON_CHECK = re.compile(r"^\s*json_valid\(\s*`((?:[^`]|``)+)`\s*\)\s*$", re.IGNORECASE)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def read_table_schema(conn: Any, table: TableId, policy: str, *, mariadb: bool, version: int = 1
                      ) -> TableSchema | None:
    """The table's schema from information_schema (None if it does not exist), zero-date policy applied."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table.database, table.name))
        column_rows = cur.fetchall()
        if not column_rows:
            return None
        json_columns: set[str] = set()
        if mariadb:
            cur.execute(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s", (table.database, table.name))
            for (clause,) in cur.fetchall():
                match = _JSON_CHECK.match(_text(clause))
                if match:
                    json_columns.add(match.group(1).replace("``", "`"))
        # Unique indexes in key order; a prefix index (SUB_PART) does not make the whole column unique.
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (table.database, table.name))
        index_rows = cur.fetchall()
    columns = []
    for name, column_type, nullable, default in column_rows:
        name = _text(name)
        default_text = None if default is None else _text(default)
        column = ColumnSchema(
            name=name, type=parse_column_type(_text(column_type), is_json=name in json_columns),
            nullable=_text(nullable) == "YES",
            default=mariadb_default(default_text) if mariadb else default_text)
        columns.append(canonical_default(apply_zero_date_policy(column, policy)))
    indexes: dict[str, list[str]] = {}
    partial: set[str] = set()
    for index_name, column_name, sub_part in index_rows:
        index = _text(index_name)
        if column_name is None or sub_part is not None:
            partial.add(index)
            continue
        indexes.setdefault(index, []).append(_text(column_name))
    primary = tuple(indexes.get("PRIMARY", ())) if "PRIMARY" not in partial else ()
    unique = tuple(tuple(cols) for name, cols in sorted(indexes.items()) if name != "PRIMARY" and name not in partial)
    return TableSchema(table=table, columns=tuple(columns), primary_key=primary, unique_keys=unique, version=version)


def same_shape(a: TableSchema, b: TableSchema) -> bool:
    return (a.columns, a.primary_key, a.unique_keys) == (b.columns, b.primary_key, b.unique_keys)


class SchemaHistory:
    """Per table: the schemas seen so far (newest last) and the one in force at the stream's position."""

    def __init__(self, loader: Callable[[TableId], TableSchema | None], policy: str) -> None:
        self._loader = loader
        self._policy = policy
        self._known: dict[TableId, list[TableSchema]] = {}
        self._current: dict[TableId, TableSchema | None] = {}

    def current(self, table: TableId) -> TableSchema | None:
        return self._current.get(table)

    def known(self, table: TableId) -> list[TableSchema]:
        return list(self._known.get(table, ()))

    def _next_version(self, table: TableId) -> int:
        return max((s.version for s in self._known.get(table, ())), default=0) + 1

    def _remember(self, schema: TableSchema) -> TableSchema:
        versions = self._known.setdefault(schema.table, [])
        for existing in versions:
            if same_shape(existing, schema):
                return existing
        if schema.version <= max((s.version for s in versions), default=0):
            schema = TableSchema(schema.table, schema.columns, schema.primary_key, schema.unique_keys,
                                 self._next_version(schema.table), dict(schema.extra))
        versions.append(schema)
        return schema

    def reload(self, table: TableId) -> TableSchema | None:
        """Read information_schema now (stream start, or after a DDL statement on table)."""
        schema = self._loader(table)
        if schema is not None:
            schema = self._remember(schema)
        self._current[table] = schema
        return schema

    def for_table_map(self, table: TableId, columns: Sequence[BinlogColumn], primary_key: tuple[str, ...]
                      ) -> TableSchema:
        """The schema a TABLE_MAP was written with: a known one if it agrees, else derived from the binlog."""
        current = self._current.get(table)
        candidates = ([current] if current is not None else []) + list(reversed(self._known.get(table, [])))
        for schema in candidates:
            if self._agrees(schema, columns):
                self._current[table] = schema
                return schema
        schema = self._derive(table, columns, primary_key, candidates)
        log.info("binlog schema of %s differs from information_schema: using the binlog's columns %s",
                 table, [c.name for c in columns])
        self._current[table] = schema
        return schema

    @staticmethod
    def _agrees(schema: TableSchema, columns: Sequence[BinlogColumn]) -> bool:
        if len(schema.columns) != len(columns):
            return False
        for known, col in zip(schema.columns, columns, strict=True):
            if known.name != col.name or not compatible(binlog_type(col), native_kind(known)):
                return False
        return True

    def _derive(self, table: TableId, columns: Sequence[BinlogColumn], primary_key: tuple[str, ...],
                candidates: list[TableSchema]) -> TableSchema:
        derived: list[ColumnSchema] = []
        for col in columns:
            from_binlog = binlog_type(col)
            reuse = None
            for schema in candidates:
                for known in schema.columns:
                    if known.name == col.name and compatible(from_binlog, native_kind(known)):
                        reuse = known
                        break
                if reuse is not None:
                    break
            if reuse is None:
                reuse = apply_zero_date_policy(ColumnSchema(col.name, from_binlog, col.nullable), self._policy)
            derived.append(reuse)
        names = {c.name for c in derived}
        if not primary_key:
            primary_key = next((s.primary_key for s in candidates if s.primary_key and names.issuperset(s.primary_key)),
                               ())
        unique: list[tuple[str, ...]] = []
        for schema in candidates:
            for key in schema.unique_keys:
                if names.issuperset(key) and key not in unique:
                    unique.append(key)
        schema = TableSchema(table, tuple(derived), primary_key, tuple(unique), self._next_version(table),
                             {"source": "binlog"})
        return self._remember(schema)
