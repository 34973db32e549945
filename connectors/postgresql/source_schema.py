"""A source table's schema in canonical types, from the catalog or from a pgoutput Relation message.

Both paths resolve each column's type by (type oid, type modifier) through one cache, so a table
the stream describes exactly as the catalog does gets an equal TableSchema: only a real change
(a column added, dropped, retyped) makes the stream's schema differ from the snapshot's.

The schema's ``extra`` carries what the PostgreSQL source needs besides the canonical schema:
"pg_types" (a PgType per column) and "replica_identity" (d, n, f or i).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from connectors.postgresql.source_types import PgType, canonical, default_value, text_loader
from connectors.types import ColumnSchema, TableId, TableSchema

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type_oid: int
    modifier: int
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class CatalogTable:
    """A table as the catalog shows it now."""

    table: TableId
    oid: int
    replica_identity: str
    columns: tuple[CatalogColumn, ...]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]

    def column(self, name: str) -> CatalogColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class SchemaReader:
    """Reads table schemas over one connection, caching type lookups (types rarely change)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._types: dict[tuple[int, int], PgType] = {}
        self.transformer = psycopg.adapt.Transformer(conn)

    def pg_type(self, oid: int, modifier: int) -> PgType:
        cached = self._types.get((oid, modifier))
        if cached is not None:
            return cached
        row = self.conn.execute(
            # A domain stands for its base type (one level), with the domain's own modifier if it has one.
            "SELECT b.oid::int8, b.typname::text, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE %s END, "
            "b.typtype::text, ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = b.oid "
            "ORDER BY enumsortorder) FROM pg_type t "
            "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
            "WHERE t.oid = %s", [modifier, oid]).fetchone()
        if row is None:
            raise LookupError(f"type oid {oid} is not in pg_type")
        base_oid, name, base_modifier, type_kind, labels = row
        (display,) = self.conn.execute("SELECT format_type(%s, %s)", [base_oid, base_modifier]).fetchone() or ("",)
        pg = PgType(int(base_oid), name, int(base_modifier), str(display), type_kind, tuple(labels))
        self._types[(oid, modifier)] = pg
        return pg

    def catalog_table(self, table: TableId) -> CatalogTable | None:
        found = self.conn.execute(
            "SELECT c.oid::int8, c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            [table.database, table.name]).fetchone()
        if found is None:
            return None
        oid, identity = found
        columns = tuple(CatalogColumn(name, int(type_oid), int(modifier), bool(nullable), default)
                        for name, type_oid, modifier, nullable, default in self.conn.execute(
            "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "AND a.attgenerated = '' "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [oid]))
        primary: tuple[str, ...] = ()
        unique: list[tuple[str, ...]] = []
        # Unique indexes over plain columns only: partial and expression indexes do not make a row key.
        for is_primary, names in self.conn.execute(
                "SELECT i.indisprimary, ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY "
                "AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) "
                "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                "WHERE i.indrelid = %s AND i.indisunique AND i.indisvalid AND i.indpred IS NULL "
                "AND i.indexprs IS NULL ORDER BY ic.relname", [oid]):
            if is_primary:
                primary = tuple(names)
            else:
                unique.append(tuple(names))
        return CatalogTable(table, int(oid), identity, columns, primary, tuple(unique))

    def schema(self, catalog: CatalogTable, names: list[str] | None = None,
               types: list[tuple[int, int]] | None = None) -> TableSchema:
        """The canonical schema: the catalog's columns, or (from a Relation message) names and types given.

        Columns the catalog no longer has (dropped since the message was written) are nullable, without
        default; keys are the catalog's, as far as their columns are present.
        """
        if names is None or types is None:
            names = [c.name for c in catalog.columns]
            types = [(c.type_oid, c.modifier) for c in catalog.columns]
        columns = []
        pg_types = []
        for name, (oid, modifier) in zip(names, types, strict=True):
            pg = self.pg_type(oid, modifier)
            known = catalog.column(name)
            same = known is not None and (known.type_oid, known.modifier) == (oid, modifier)
            default = default_value(known.default, text_loader(self.transformer, pg)) if same and known else None
            columns.append(ColumnSchema(name, canonical(pg), known.nullable if same and known else True, default))
            pg_types.append(pg)
        present = set(names)
        primary = catalog.primary_key if set(catalog.primary_key) <= present else ()
        unique = tuple(key for key in catalog.unique_keys if set(key) <= present)
        return TableSchema(catalog.table, tuple(columns), primary, unique,
                           extra={"pg_types": tuple(pg_types), "replica_identity": catalog.replica_identity,
                                  "oid": catalog.oid})
