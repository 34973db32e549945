"""Catalog discovery for PostgreSQL: schemas (the catalog's "databases"), tables, columns, keys, estimates.

One database per datasource (config.database, default 'postgres'). Four set-based queries over
pg_catalog (schemas, relations, columns, unique indexes), keyed by OID, whatever the number of
tables. Partitions are left out: their partitioned parent stands for them (and carries their
summed row estimate), as logical replication can publish changes through the root.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from connectors.base import Catalog, Column, Table
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.postgresql.connection import address, open_connection, redact

log = logging.getLogger(__name__)

DEFAULT_QUERY_TIMEOUT = 120.0
KINDS = {"r": "table", "p": "table", "v": "view"}


def user_schemas(alias: str = "") -> sql.Composed:
    """SQL condition on pg_namespace: not a system catalog, TOAST or per-session temporary schema."""
    column = sql.Identifier(alias, "nspname") if alias else sql.Identifier("nspname")
    return sql.SQL("{col} NOT IN ('pg_catalog', 'information_schema') AND {col} !~ '^pg_(toast|temp)'").format(
        col=column)


class PostgreSQLCatalogReader:
    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], engine: str = "postgresql") -> None:
        self.conn = conn
        self.engine = engine

    def _all(self, query: sql.SQL | sql.Composed) -> list[tuple[Any, ...]]:
        return self.conn.execute(query).fetchall()

    def read(self) -> Catalog:
        (version_num,) = self._all(sql.SQL("SELECT current_setting('server_version_num')::int"))[0]
        relations = sql.SQL("c.relkind IN ('r', 'p', 'v') AND {schemas}{partitions}").format(
            schemas=user_schemas("n"),
            partitions=sql.SQL(" AND NOT c.relispartition" if version_num >= 100000 else ""))
        # INCLUDE columns (PostgreSQL 11+) follow the key columns in indkey and are not part of the key.
        key_columns = sql.SQL("i.indnkeyatts" if version_num >= 110000 else "i.indnatts")

        schemas = [row[0] for row in self._all(
            sql.SQL("SELECT nspname::text FROM pg_namespace WHERE {schemas} ORDER BY nspname").format(
                schemas=user_schemas()))]

        tables: dict[int, Table] = {}
        rows = self._all(sql.SQL(
            "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, c.reltuples::float8, "
            "coalesce(obj_description(c.oid, 'pg_class'), ''), "
            # A partitioned table holds no rows itself: sum the estimates of its (sub)partitions.
            "CASE WHEN c.relkind = 'p' THEN (WITH RECURSIVE tree(relid) AS ("
            "  SELECT inhrelid FROM pg_inherits WHERE inhparent = c.oid"
            "  UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid)"
            "  SELECT sum(p.reltuples) FILTER (WHERE p.reltuples >= 0 AND p.relkind = 'r')::float8"
            "  FROM tree JOIN pg_class p ON p.oid = tree.relid) END "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE {relations} ORDER BY n.nspname, c.relname").format(relations=relations))
        for oid, schema, name, relkind, reltuples, comment, partition_rows in rows:
            kind = KINDS[relkind]
            estimate: int | None
            if kind == "view":
                estimate = None
            elif relkind == "p":
                estimate = None if partition_rows is None else int(partition_rows)
            else:
                estimate = None if reltuples < 0 else int(reltuples)  # -1: never vacuumed or analysed
            tables[oid] = Table(database=schema, name=name, kind=kind, estimated_rows=estimate, comment=comment)

        rows = self._all(sql.SQL(
            "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attnum::int, coalesce(col_description(a.attrelid, a.attnum), '') "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attnum > 0 AND NOT a.attisdropped AND {relations} ORDER BY a.attrelid, a.attnum").format(
                relations=relations))
        for relid, name, type_text, nullable, default, ordinal, comment in rows:
            table = tables.get(relid)
            if table is not None:  # None: created between the two queries
                table.columns.append(Column(name=name, type=type_text, nullable=nullable, default=default,
                                            ordinal=ordinal, comment=comment))

        # Unique indexes over plain columns only: partial and expression indexes do not make a row key.
        rows = self._all(sql.SQL(
            "SELECT i.indrelid::int8, i.indisprimary, ARRAY("
            "  SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
            "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            "  WHERE k.ord <= {key_columns} ORDER BY k.ord) "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
            "AND {relations} ORDER BY i.indrelid, ic.relname").format(key_columns=key_columns, relations=relations))
        for relid, primary, columns in rows:
            table = tables.get(relid)
            if table is None:
                continue
            if primary:
                table.primary_key = list(columns)
            else:
                table.unique_keys.append(list(columns))

        return Catalog(engine=self.engine, tables=list(tables.values()), databases=schemas)


def discover(config: ConnectionConfig) -> Catalog:
    """Connect (raising ConnectionFailed with a hint on failure) and read the catalog."""
    timeout = float(config.options.get("query_timeout", DEFAULT_QUERY_TIMEOUT))
    conn = open_connection(config, query_timeout=timeout)
    try:
        return PostgreSQLCatalogReader(conn, config.engine or "postgresql").read()
    except psycopg.errors.QueryCanceled as exc:
        raise ConnectorError(f"a catalog query on {address(config)} ran longer than {timeout:g}s",
                             hint="Raise the datasource option \"query_timeout\" (seconds).") from exc
    except psycopg.OperationalError as exc:
        message = redact(" ".join(str(exc).split()), config.password)
        raise ConnectionFailed(f"lost the connection to {address(config)} while reading the catalog: {message}",
                               hint="Check the server and network; for very large catalogs raise the datasource "
                                    "option \"query_timeout\" (seconds).") from exc
    except psycopg.Error as exc:
        message = redact(" ".join(str(exc).split()), config.password)
        raise ConnectorError(f"reading the catalog from {address(config)} failed: {message}",
                             hint=f"Make sure '{config.user}' may read the pg_catalog tables.") from exc
    finally:
        conn.close()
