"""One side of a compare: the reads a compare needs, with engine-specific SQL behind one interface.

Checksums run inside the database: per row, the MD5 of the canonical text of its columns (each
column's canonical SQL expression is built so that MySQL and PostgreSQL print the same text for
values the type mapping carries across: see ``canonical_expr`` in each engine's module), its first
60 bits as an integer, summed with the row count. A sum is order-independent, so both sides may
scan in any order. NULL is the marker 'N'; strings are length-prefixed so '|' inside a value cannot
shift columns.

A chunk is first compared by its *digest*: the row count and the MD5 of all its rows' texts joined
in key order (one MD5 per chunk instead of one per row: the per-row hash call was half of the
per-row cost). Each engine reads the range in key order (MySQL: the clustered PRIMARY index;
PostgreSQL: an ordered subquery), so equal rows give equal digests; the digest texts
(``fast_expr``) may print a value differently on the two engines where that is cheaper (MySQL
zero dates), never the same for different values. A digest that differs only costs a drill-down,
which uses the per-row sums of ``canonical_expr`` and decides row by row, so a mismatch that is
not a real difference is never reported. False negatives need an MD5 collision of the two joined
texts (about 2^-128 per differing chunk).

Identifiers are quoted by each engine's own quoting; values always travel as query parameters.

``scope``: equality conditions every read of a side adds (a mapped task's target: one shard's rows of
a merged table, or the rows not flagged deleted), so a side can be a subset of its table.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from connectors.base import Chunk
from connectors.chunking import row_compare_sql
from connectors.config import ConnectionConfig
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

KEY_BATCH = 500  # keys per "WHERE key IN (...)" read
SEPARATOR = "|"
ROW_SEPARATOR = ";"  # between rows in a digest; no printed number, date or hex holds it, strings are length-prefixed
NULL_MARK = "N"
# Row text per chunk digest, held once in the server's memory while it is hashed: chunks are planned
# to stay under it (from the table's average row size) and a longer text falls back to per-row sums.
DIGEST_BYTES = 64 * 2**20
# Kinds a canonical SQL text exists for on both engines; the others are hashed in the worker.
SQL_KINDS = frozenset({Kind.INT, Kind.YEAR, Kind.DECIMAL, Kind.STRING, Kind.ENUM, Kind.SET, Kind.BYTES,
                       Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP, Kind.UUID, Kind.BOOL})
_TEXTUAL = frozenset({Kind.STRING, Kind.ENUM, Kind.SET})
_INTEGRAL = frozenset({Kind.INT, Kind.YEAR})


def sql_compatible(source: CanonicalType, here: CanonicalType) -> bool:
    """Whether this side's column can print the source kind's canonical text in SQL."""
    if source.kind not in SQL_KINDS:
        return False
    if source.kind == here.kind:
        return True
    return (source.kind in _TEXTUAL and here.kind in _TEXTUAL) or (source.kind in _INTEGRAL and here.kind in _INTEGRAL)


class Endpoint(abc.ABC):
    """A connection to one side; not for use by two threads at once."""

    engine = ""

    def __init__(self, config: ConnectionConfig, *, zero_date_policy: str = "null") -> None:
        self.config = config
        self.zero_date_policy = zero_date_policy
        self.scope: tuple[tuple[str, Any], ...] = ()  # (column, value): only rows where column = value

    # -- engine specifics ---------------------------------------------------------------------------

    @abc.abstractmethod
    def quote(self, name: str) -> str: ...

    @abc.abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    def schema(self, table: TableId) -> TableSchema: ...

    @abc.abstractmethod
    def canonical_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        """SQL printing the column's canonical text (NULL stays NULL); only for sql_compatible columns.

        The text depends on the source's type (a decimal's scale, a datetime's digits), so both sides
        print the same; a column whose own type already prints that way is used as it is (cheapest).
        """

    def fast_expr(self, table: TableId, column: ColumnSchema, source: CanonicalType) -> str:
        """The column's text in a chunk digest: canonical_expr, or a cheaper text that is never equal
        for different values (a value it prints differently from the other engine costs a drill-down)."""
        return self.canonical_expr(table, column, source)

    def can_digest(self, schema: TableSchema, key: Sequence[str]) -> bool:
        """Whether this side can read a range in the order of key (the rows of a digest must come in key order)."""
        return True

    @abc.abstractmethod
    def digest(self, table: TableId, text: str, key: Sequence[str], chunk: Chunk) -> tuple[int, str | None] | None:
        """(rows, MD5 of the rows' texts joined in key order; None when empty), or None if it cannot tell."""

    @abc.abstractmethod
    def estimate_row_bytes(self, table: TableId) -> int:
        """The table's average row size in bytes (0 when unknown)."""

    @abc.abstractmethod
    def row_hash(self, texts: Sequence[str]) -> str:
        """SQL for a row's 60-bit hash of the joined canonical texts."""

    @abc.abstractmethod
    def bucket_expr(self, column: ColumnSchema) -> str:
        """SQL for floor((column - %s) / %s) on an integer key column."""

    @abc.abstractmethod
    def read_expr(self, column: ColumnSchema) -> str:
        """SQL reading the column in a form normalise understands."""

    @abc.abstractmethod
    def estimate_rows(self, table: TableId) -> int: ...

    def load(self) -> int | None:
        """The server's current load (running threads / active backends), or None when unknown."""
        return None

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- shared SQL ---------------------------------------------------------------------------------

    def table_sql(self, table: TableId) -> str:
        return f"{self.quote(table.database)}.{self.quote(table.name)}"

    def _compare(self, key: Sequence[str], op: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """(k1, k2, ...) op (v1, v2, ...) as an OR chain an index range can use (MariaDB ignores row bounds)."""
        return row_compare_sql(key, op, values, self.quote)

    def _scope(self) -> tuple[list[str], list[Any]]:
        return [f"{self.quote(column)} = %s" for column, _ in self.scope], [value for _, value in self.scope]

    def where(self, key: Sequence[str], chunk: Chunk) -> tuple[str, list[Any]]:
        conditions, params = self._scope()
        if chunk.low is not None:
            text, args = self._compare(key, ">=", chunk.low)
            conditions.append(text)
            params += args
        if chunk.high is not None:
            text, args = self._compare(key, "<", chunk.high)
            conditions.append(text)
            params += args
        return (" WHERE " + " AND ".join(conditions)) if conditions else "", params

    def row_text(self, exprs: Sequence[str], columns: Sequence[ColumnSchema]) -> str:
        """A row's digest text: the columns' texts joined by '|'; NULL as the marker (COALESCE only where
        the column may hold NULL: CONCAT_WS would skip a NULL and shift the columns)."""
        parts = [f"COALESCE({expr}, '{NULL_MARK}')" if column.nullable else expr
                 for expr, column in zip(exprs, columns, strict=True)]
        return f"CONCAT_WS('{SEPARATOR}', {', '.join(parts)})"

    def hash_sql(self, exprs: Sequence[str]) -> str:
        return self.row_hash([f"COALESCE({expr}, '{NULL_MARK}')" for expr in exprs])

    def checksum(self, table: TableId, exprs: Sequence[str], key: Sequence[str], chunk: Chunk) -> tuple[int, int]:
        """(rows, sum of row hashes) of the chunk."""
        where, params = self.where(key, chunk)
        rows = self.query(f"SELECT COUNT(*), COALESCE(SUM({self.hash_sql(exprs)}), 0) "  # noqa: S608 - quoted
                          f"FROM {self.table_sql(table)}{where}", params)
        return int(rows[0][0]), int(rows[0][1])

    def bucket_checksums(self, table: TableId, exprs: Sequence[str], column: ColumnSchema, chunk: Chunk,
                         origin: int, step: int) -> dict[int, tuple[int, int]]:
        """Per bucket floor((key - origin) / step) of the chunk: (rows, sum of row hashes), one scan."""
        where, params = self.where([column.name], chunk)
        bucket = self.bucket_expr(column)
        rows = self.query(f"SELECT {bucket}, COUNT(*), SUM({self.hash_sql(exprs)}) "  # noqa: S608 - quoted
                          f"FROM {self.table_sql(table)}{where} GROUP BY 1", [origin, step, *params])
        return {int(b): (int(n), int(s)) for b, n, s in rows}

    def count(self, table: TableId, key: Sequence[str], chunk: Chunk) -> int:
        where, params = self.where(key, chunk)
        return int(self.query(f"SELECT COUNT(*) FROM {self.table_sql(table)}{where}", params)[0][0])  # noqa: S608

    def read_range(self, table: TableId, columns: Sequence[ColumnSchema], key: Sequence[str],
                   chunk: Chunk) -> list[tuple[Any, ...]]:
        where, params = self.where(key, chunk)
        select = ", ".join(self.read_expr(c) for c in columns)
        return self.query(f"SELECT {select} FROM {self.table_sql(table)}{where}", params)  # noqa: S608 - quoted

    def read_ranges(self, table: TableId, columns: Sequence[ColumnSchema], key: Sequence[str],
                    chunks: Sequence[Chunk]) -> list[tuple[Any, ...]]:
        """Rows of several ranges in one query (the leaves of a drill-down)."""
        conditions: list[str] = []
        params: list[Any] = []
        for chunk in chunks:
            where, args = self.where(key, chunk)
            conditions.append("(" + (where.removeprefix(" WHERE ") or "TRUE") + ")")
            params += args
        select = ", ".join(self.read_expr(c) for c in columns)
        return self.query(f"SELECT {select} FROM {self.table_sql(table)} "  # noqa: S608 - quoted names
                          f"WHERE {' OR '.join(conditions)}", params)

    def read_keys(self, table: TableId, columns: Sequence[ColumnSchema], key: Sequence[str],
                  keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        select = ", ".join(self.read_expr(c) for c in columns)
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), KEY_BATCH):
            part = keys[start:start + KEY_BATCH]
            if len(key) == 1:
                condition = f"{self.quote(key[0])} IN ({', '.join(['%s'] * len(part))})"
                params = [k[0] for k in part]
            else:
                row = "(" + ", ".join(["%s"] * len(key)) + ")"
                condition = f"({', '.join(self.quote(c) for c in key)}) IN ({', '.join([row] * len(part))})"
                params = [v for k in part for v in k]
            scoped, args = self._scope()
            condition = " AND ".join([condition, *scoped])
            out += self.query(f"SELECT {select} FROM {self.table_sql(table)} WHERE {condition}",  # noqa: S608
                              [*params, *args])
        return out

    def key_at_offset(self, table: TableId, key: Sequence[str], chunk: Chunk, offset: int) -> tuple[Any, ...] | None:
        where, params = self.where(key, chunk)
        order = ", ".join(self.quote(c) for c in key)
        rows = self.query(f"SELECT {order} FROM {self.table_sql(table)}{where} "  # noqa: S608 - quoted names
                          f"ORDER BY {order} LIMIT 1 OFFSET %s", [*params, offset])
        return tuple(rows[0]) if rows else None

    def min_max(self, table: TableId, column: str, chunk: Chunk | None = None) -> tuple[Any, Any]:
        where, params = self.where([column], chunk or Chunk(table, 0, None, None))
        quoted = self.quote(column)
        rows = self.query(f"SELECT MIN({quoted}), MAX({quoted}) FROM {self.table_sql(table)}{where}",  # noqa: S608
                          params)
        return rows[0][0], rows[0][1]
