"""Catalog discovery for MySQL and MariaDB: databases, tables, columns, keys and row estimates.

Four set-based information_schema queries (schemas, tables, columns, unique indexes), whatever the
number of tables, so a server with thousands of them is still one round trip per kind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pymysql

from connectors.base import Catalog, Column, Table
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.mysql.connection import address, close, connect, error_message, is_connection_lost

log = logging.getLogger(__name__)

SYSTEM_DATABASES = ("mysql", "information_schema", "performance_schema", "sys")
# MariaDB reports system-versioned tables as their own type; sequences are not data tables.
TABLE_KINDS = {"BASE TABLE": "table", "SYSTEM VERSIONED": "table", "VIEW": "view"}
DEFAULT_QUERY_TIMEOUT = 120.0


SCHEMAS_SQL = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE {where} ORDER BY SCHEMA_NAME"
TABLES_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, TABLE_COMMENT FROM information_schema.TABLES "
    "WHERE {where} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW') ORDER BY TABLE_SCHEMA, TABLE_NAME")
COLUMNS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE, "
    "COLUMN_COMMENT FROM information_schema.COLUMNS WHERE {where} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION")
# Unique indexes in key order; a NULL column name marks a functional key part (MySQL 8), not a column.
UNIQUE_INDEXES_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
    "WHERE {where} AND NON_UNIQUE = 0 ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")


def _filtered(template: str, where: str) -> str:
    # Only the constant fragment from _schema_filter is spliced in; every value travels as a parameter.
    return template.format(where=where)


def _text(value: Any) -> str:
    # Some MySQL 8 data-dictionary columns come back as bytes (binary collation).
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _schema_filter(column: str, database: str | None) -> tuple[str, list[str]]:
    """A WHERE fragment (with parameters) choosing the one database, or every non-system one."""
    if database:
        return f"{column} = %s", [database]
    return f"{column} NOT IN ({', '.join(['%s'] * len(SYSTEM_DATABASES))})", list(SYSTEM_DATABASES)


def mariadb_default(value: str | None) -> str | None:
    """MariaDB 10.2.7+ prints defaults as SQL: NULL for none, 'text' for strings. Match MySQL's plain values."""
    if value is None or value == "NULL":
        return None
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        return _unescape_literal(value[1:-1])
    return value


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}


def _unescape_literal(body: str) -> str:
    """The text of a MariaDB string literal body: backslash escapes and doubled quotes, left to right."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif ch == "'" and body[i + 1:i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class MySQLCatalogReader:
    def __init__(self, conn: Any, database: str | None, engine: str = "mysql") -> None:
        self.conn = conn
        self.database = database or None
        self.engine = engine

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, list(args))
            return list(cur.fetchall())

    def read(self) -> Catalog:
        (version,) = self._query("SELECT VERSION()", [])[0]
        mariadb = "mariadb" in _text(version).lower()

        where, args = _schema_filter("SCHEMA_NAME", self.database)
        databases = [_text(r[0]) for r in self._query(_filtered(SCHEMAS_SQL, where), args)]

        tables: dict[tuple[str, str], Table] = {}
        where, args = _schema_filter("TABLE_SCHEMA", self.database)
        for schema, name, table_type, table_rows, comment in self._query(_filtered(TABLES_SQL, where), args):
            kind = TABLE_KINDS[_text(table_type)]
            tables[(_text(schema), _text(name))] = Table(
                database=_text(schema), name=_text(name), kind=kind,
                estimated_rows=int(table_rows) if table_rows is not None and kind == "table" else None,
                # MySQL puts the word VIEW in a view's comment.
                comment="" if kind == "view" and _text(comment) == "VIEW" else _text(comment))

        rows = self._query(_filtered(COLUMNS_SQL, where), args)
        for schema, table_name, name, ordinal, default, nullable, column_type, comment in rows:
            table = tables.get((_text(schema), _text(table_name)))
            if table is None:  # a sequence or a table created since the tables query
                continue
            default_text = None if default is None else _text(default)
            table.columns.append(Column(
                name=_text(name), type=_text(column_type), nullable=_text(nullable) == "YES",
                default=mariadb_default(default_text) if mariadb else default_text,
                ordinal=int(ordinal), comment=_text(comment)))

        rows = self._query(_filtered(UNIQUE_INDEXES_SQL, where), args)
        indexes: dict[tuple[str, str], dict[str, list[str | None]]] = {}
        for schema, table_name, index_name, column in rows:
            key = (_text(schema), _text(table_name))
            indexes.setdefault(key, {}).setdefault(_text(index_name), []).append(
                None if column is None else _text(column))
        for key, by_name in indexes.items():
            table = tables.get(key)
            if table is None:
                continue
            for index_name, columns in by_name.items():
                if any(c is None for c in columns):
                    continue
                names = [c for c in columns if c is not None]
                if index_name == "PRIMARY":
                    table.primary_key = names
                else:
                    table.unique_keys.append(names)

        return Catalog(engine=self.engine, tables=list(tables.values()), databases=databases)


def discover(config: ConnectionConfig) -> Catalog:
    """Connect (raising ConnectionFailed with a hint on failure) and read the catalog."""
    timeout = float(config.options.get("query_timeout", DEFAULT_QUERY_TIMEOUT))
    conn = connect(config, query_timeout=timeout)
    try:
        return MySQLCatalogReader(conn, config.database or None, config.engine or "mysql").read()
    except pymysql.err.MySQLError as exc:
        message = error_message(exc, config.password)
        if is_connection_lost(exc):
            raise ConnectionFailed(f"lost the connection to {address(config)} while reading the catalog: {message}",
                                   hint="Check the server and network; for very large catalogs raise the "
                                        "datasource option \"query_timeout\" (seconds).") from exc
        raise ConnectorError(f"reading the catalog from {address(config)} failed: {message}",
                             hint=f"Make sure '{config.user}' may read information_schema.") from exc
    finally:
        close(conn)
