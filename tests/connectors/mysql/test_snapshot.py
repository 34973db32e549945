"""Snapshot chunks cover every row exactly once, whatever the key; tables without a key are refused."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from connectors.errors import ConnectorError
from connectors.mysql.snapshot import drivers_available, where_compare
from connectors.mysql.source import MySQLSource
from connectors.types import TableId
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql, source_for


def read_all(source: MySQLSource, table: TableId, chunk_size: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    schema = source.table_schema(table)
    chunks = list(source.snapshot_chunks(schema, chunk_size))
    rows = [row for chunk in chunks for row in source.read_chunk(schema, chunk)]
    return chunks, rows


def assert_exactly_once(rows: list[tuple[Any, ...]], expected: set[tuple[Any, ...]]) -> None:
    duplicates = [row for row, n in Counter(rows).items() if n > 1]
    assert not duplicates, f"rows read twice: {duplicates[:5]}"
    assert len(rows) == len(expected) and set(rows) == expected


def fill(sql: Sql, ddl: str, rows: list[tuple[Any, ...]]) -> TableId:
    sql(ddl)
    if rows:
        placeholders = ", ".join(["%s"] * len(rows[0]))
        with sql.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO t VALUES ({placeholders})", rows)
        sql("ANALYZE TABLE t")
    return TableId(sql.database, "t")


@pytest.mark.parametrize("driver", drivers_available())
def test_dense_integer_keys_are_split_by_arithmetic(sql: Sql, make_source: Any, driver: str) -> None:
    expected = {(i, f"v{i}") for i in range(1, 1001) if not 200 <= i < 300}  # 90% dense, one gap
    table = fill(sql, "CREATE TABLE t (id bigint primary key, v varchar(10))", sorted(expected))
    chunks, rows = read_all(make_source(driver=driver), table, 100)
    assert_exactly_once(rows, expected)
    assert 8 <= len(chunks) <= 13 and chunks[0].low is None and chunks[-1].high is None
    assert all(a.high == b.low for a, b in itertools.pairwise(chunks))
    # Arithmetic bounds: evenly spaced key values (keyset paging would follow the gaps).
    highs = [c.high[0] for c in chunks[:-1] if c.high is not None]
    assert len({b - a for a, b in itertools.pairwise(highs)}) == 1


def test_sparse_integer_keys_use_keyset_boundaries(sql: Sql, make_source: Any) -> None:
    expected = {(i * 7919 - 500000, i) for i in range(300)}
    table = fill(sql, "CREATE TABLE t (id int primary key, v int)", sorted(expected))
    chunks, rows = read_all(make_source(), table, 50)
    assert_exactly_once(rows, expected)
    assert len(chunks) == 6  # 300 rows / 50, boundaries found by keyset paging: no empty ranges


def test_composite_keys_chunk_by_row_value_order(sql: Sql, make_source: Any) -> None:
    expected = {(a, f"k{b:03d}", a * 1000 + b) for a in range(7) for b in range(40)}
    table = fill(sql, "CREATE TABLE t (a int, b varchar(10), v int, PRIMARY KEY (a, b))", sorted(expected))
    chunks, rows = read_all(make_source(), table, 33)
    assert_exactly_once(rows, expected)
    assert len(chunks) == 9


@pytest.mark.parametrize("driver", drivers_available())
def test_varchar_keys_with_collation_order(sql: Sql, make_source: Any, driver: str) -> None:
    words = ["alpha", "Beta", "gamma", "\u00e9clair", "Zulu", "zz top", "\u4e2d\u6587", "\U0001F600", "a b", "A-C"]
    expected = {(f"{w}{i}", i) for i, w in enumerate(words * 20)}
    table = fill(sql, "CREATE TABLE t (k varchar(40) primary key, n int)", sorted(expected))
    chunks, rows = read_all(make_source(driver=driver), table, 17)
    assert_exactly_once(rows, expected)
    assert len(chunks) == 12


@pytest.mark.parametrize("ddl", ["CREATE TABLE t (id int primary key, v int)",
                                 "CREATE TABLE t (a int, b int, v int, primary key (a, b))",
                                 "CREATE TABLE t (k varchar(10) primary key, v int)"])
def test_empty_and_one_row_tables(sql: Sql, make_source: Any, ddl: str) -> None:
    table = fill(sql, ddl, [])
    chunks, rows = read_all(make_source(), table, 10)
    assert rows == [] and len(chunks) == 1 and (chunks[0].low, chunks[0].high) == (None, None)
    row = (1, 2) if ddl.count("int") == 2 else (1, 2, 3) if "a int" in ddl else ("x", 2)
    sql(f"INSERT INTO t VALUES ({', '.join(['%s'] * len(row))})", row)
    chunks, rows = read_all(make_source(), table, 1)
    assert rows == [row] and len(chunks) <= 2


def test_unique_not_null_key_is_used_when_there_is_no_primary_key(sql: Sql, make_source: Any) -> None:
    expected = {(i, f"u{i}") for i in range(50)}
    table = fill(sql, "CREATE TABLE t (v int, u varchar(10) NOT NULL, UNIQUE KEY uk (u))", sorted(expected))
    source = make_source()
    schema = source.table_schema(table)
    assert schema.primary_key == () and schema.unique_keys == (("u",),) and schema.key_columns == ("u",)
    _, rows = read_all(source, table, 7)
    assert_exactly_once(rows, expected)


def test_tables_without_a_usable_key_are_refused_unless_allowed(sql: Sql, make_source: Any) -> None:
    expected = {(i, None) for i in range(5)}
    table = fill(sql, "CREATE TABLE t (v int, u int, UNIQUE KEY uk (u))", sorted(expected, key=lambda r: r[0]))
    source = make_source()
    schema = source.table_schema(table)
    with pytest.raises(ConnectorError, match=f"{table}.*no primary key") as info:
        list(source.snapshot_chunks(schema, 10))
    assert "allow_no_primary_key" in str(info.value)
    chunks, rows = read_all(make_source(allow_no_primary_key=True), table, 2)
    assert len(chunks) == 1 and sorted(rows, key=lambda r: r[0]) == sorted(expected, key=lambda r: r[0])


def test_abandoned_chunk_reads_do_not_break_the_next_read(sql: Sql, make_source: Any) -> None:
    expected = {(i, i) for i in range(5000)}
    table = fill(sql, "CREATE TABLE t (id int primary key, v int)", sorted(expected))
    source = make_source()
    schema = source.table_schema(table)
    (chunk,) = list(source.snapshot_chunks(schema, 10000))
    partial = source.read_chunk(schema, chunk)
    assert next(partial) == (0, 0)
    partial.close()  # the consumer gave up mid-chunk
    assert set(source.read_chunk(schema, chunk)) == expected


def test_composite_range_predicate_is_an_or_chain() -> None:
    sql, params = where_compare(["a", "b`c"], ">=", (1, "x"))
    assert sql == "((`a` > %s) OR (`a` = %s AND `b``c` >= %s))" and params == [1, 1, "x"]
    sql, params = where_compare(["a", "b", "c"], "<", (1, 2, 3))
    assert sql == "((`a` < %s) OR (`a` = %s AND `b` < %s) OR (`a` = %s AND `b` = %s AND `c` < %s))"
    assert params == [1, 1, 2, 1, 2, 3]


def test_chunks_read_on_after_a_server_restart(own_mariadb: MariaDBServer) -> None:
    conn = own_mariadb.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS s")
        cur.execute("CREATE TABLE IF NOT EXISTS s.t (id int primary key)")
        cur.execute("DELETE FROM s.t")
        cur.executemany("INSERT INTO s.t VALUES (%s)", [(i,) for i in range(100)])
    conn.close()
    source = source_for(own_mariadb)
    try:
        schema = source.table_schema(TableId("s", "t"))
        chunks = source.snapshot_chunks(schema, 30)
        rows = list(source.read_chunk(schema, next(chunks)))
        own_mariadb.restart()  # the pooled reader and the chunking connection both die
        for chunk in chunks:
            rows += source.read_chunk(schema, chunk)
        assert sorted(rows) == [(i,) for i in range(100)]
    finally:
        source.close()
