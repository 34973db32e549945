"""What only the MySQL sink does: native types from a MySQL source, types by length, literal encoding."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest

from connectors.base import Chunk
from connectors.errors import ConnectorError
from connectors.mysql.sink import MySQLSink
from connectors.quarantine import QuarantinedRow
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema
from dts.localservers import MariaDBServer
from tests.connectors.sinks.conftest import MySQLHarness, mysql_sink_config
from tests.connectors.sinks.data import ALL_TYPES, ITEMS, UTC, col, item
from tests.connectors.sinks.test_sink_contract import batch

EXPECTED_TYPES = {
    "id": "bigint(20) unsigned", "i8": "tinyint(4)", "u8": "tinyint(3) unsigned", "i16": "smallint(6)",
    "u16": "smallint(5) unsigned", "i24": "mediumint(9)", "i32": "int(11)", "u32": "int(10) unsigned",
    "i64": "bigint(20)", "u64": "bigint(20) unsigned", "dec_big": "decimal(65,30)", "dec_money": "decimal(12,2)",
    "f32": "float", "f64": "double", "flag": "tinyint(1)", "bits1": "bit(1)", "bits12": "bit(12)",
    "bits64": "bit(64)", "name": "varchar(20)", "code": "varchar(4)", "body": "longtext", "blob": "longblob",
    "hash": "varbinary(16)", "mood": "enum('happy','sad','it''s \\\\ ok')", "tags": "set('a','b','c')",
    "doc": "longtext", "day": "date", "span": "time(6)", "at": "datetime(6)", "at0": "datetime",
    "stamp": "timestamp(6)", "yr": "year(4)", "uid": "char(36)",
}


def native(name: str, kind: Kind, text: str, *, nullable: bool = True, **fields: object) -> ColumnSchema:
    return ColumnSchema(name, CanonicalType(kind, native=text, **fields), nullable)  # type: ignore[arg-type]


@pytest.fixture
def native_sink(mariadb: MariaDBServer) -> Iterator[MySQLSink]:
    sink = MySQLSink(mysql_sink_config(mariadb, source_engine="mysql"))
    yield sink
    sink.close()


def test_it_creates_the_documented_types_in_utf8mb4_bin(mysql_harness: MySQLHarness) -> None:
    target = mysql_harness.target("all_types")
    mysql_harness.sink.prepare(ALL_TYPES, target)
    assert dict(mysql_harness.columns(target)) == EXPECTED_TYPES
    mysql_harness.sink.prepare(ALL_TYPES, target, if_exists="keep")  # introspected types compare equal
    with mysql_harness.conn.cursor() as cursor:
        cursor.execute("SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                       "AND TABLE_NAME = 'all_types'", [mysql_harness.database])
        (collation,) = cursor.fetchone()
    assert collation == "utf8mb4_bin"


def test_keys_and_long_strings_get_indexable_or_large_types(mysql_harness: MySQLHarness) -> None:
    schema = TableSchema(TableId("src", "texts"), (
        col("k", Kind.STRING, nullable=False), col("short", Kind.STRING, length=255),
        col("long", Kind.STRING, length=1000), col("huge", Kind.STRING, length=100_000),
        col("bk", Kind.BYTES, length=2000, nullable=False), col("raw", Kind.BYTES, length=300),
        col("odd_set", Kind.SET, values=("a,b", "c"))),
        primary_key=("k",), unique_keys=(("bk",),))
    target = mysql_harness.target("texts")
    mysql_harness.sink.prepare(schema, target)
    assert dict(mysql_harness.columns(target)) == {
        "k": "varchar(768)", "short": "varchar(255)", "long": "text", "huge": "mediumtext", "bk": "varbinary(2000)",
        "raw": "blob", "odd_set": "text"}  # a label with a comma cannot be a MySQL SET label
    mysql_harness.sink.prepare(schema, target, if_exists="keep")
    # utf8mb4_bin: keys differing only in case are two rows, as at a PostgreSQL source.
    mysql_harness.sink.write(batch(schema, target, [("a", None, None, None, b"1", None, "a,b"),
                                                    ("A", None, None, None, b"2", None, None)]))
    assert mysql_harness.count(target) == 2


def test_a_mysql_sources_native_types_are_kept_when_whitelisted(native_sink: MySQLSink,
                                                                 mysql_harness: MySQLHarness) -> None:
    schema = TableSchema(TableId("src", "natives"), (
        native("id", Kind.INT, "int(10) unsigned", bits=32, unsigned=True, nullable=False),
        native("code", Kind.STRING, "char(3)", length=3, fixed=True),
        native("notes", Kind.STRING, "mediumtext"),
        native("at", Kind.DATETIME, "datetime(3)", fsp=3),
        native("legacy", Kind.STRING, "datetime", length=19),  # a zero-date column turned into text
        native("evil", Kind.INT, "int); DROP TABLE natives; --", bits=32),
        native("doc", Kind.JSON, "longtext"),
        native("mood", Kind.ENUM, "enum('x','y')", values=("x", "y', 'z")),
    ), primary_key=("id",))
    target = mysql_harness.target("natives")
    native_sink.prepare(schema, target)
    assert dict(mysql_harness.columns(target)) == {
        "id": "int(10) unsigned", "code": "char(3)", "notes": "mediumtext", "at": "datetime(3)",
        "legacy": "varchar(19)", "evil": "int(11)", "doc": "longtext", "mood": "enum('x','y'', ''z')"}
    native_sink.prepare(schema, target, if_exists="keep")
    native_sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None),
                           [(1, "abc", "n", datetime.datetime(2024, 1, 2, 3, 4, 5, 678000), "0000-00-00 00:00:00",
                             -5, '{"a": 1}', "y', 'z")])
    assert mysql_harness.read(schema, target) == [
        (1, "abc", "n", datetime.datetime(2024, 1, 2, 3, 4, 5, 678000), "0000-00-00 00:00:00", -5, '{"a": 1}',
         "y', 'z")]


def test_types_mysql_cannot_hold_are_refused(mysql_harness: MySQLHarness) -> None:
    wide = TableSchema(TableId("src", "wide"), (col("id", Kind.INT, nullable=False),
                                                 col("n", Kind.DECIMAL, precision=80, scale=2)), primary_key=("id",))
    with pytest.raises(ConnectorError, match=r"src\.wide.*'n'.*65 digits"):
        mysql_harness.sink.prepare(wide, mysql_harness.target("wide"))


def test_a_key_of_unbounded_strings_shares_the_index_limit(mysql_harness: MySQLHarness) -> None:
    # A PostgreSQL (text, text, int) primary key: two VARCHAR(768) would pass InnoDB's 3,072-byte limit.
    schema = TableSchema(TableId("src", "pairs"), (
        col("tenant", Kind.STRING, nullable=False), col("code", Kind.STRING, nullable=False),
        col("n", Kind.INT, bits=32, nullable=False), col("note", Kind.STRING)),
        primary_key=("tenant", "code", "n"))
    target = mysql_harness.target("pairs")
    mysql_harness.sink.prepare(schema, target)
    types = dict(mysql_harness.columns(target))
    assert (types["tenant"], types["code"], types["note"]) == ("varchar(382)", "varchar(382)", "longtext")
    fits, too_long = ("t" * 382, "c", 1, "ok"), ("t" * 383, "c", 2, "no")
    reported: list[QuarantinedRow] = []
    assert mysql_harness.sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None), [fits, too_long],
                                         on_dirty=reported.append) == 1
    assert [(r.key, r.column) for r in reported] == [(("t" * 383, "c", 2), "tenant")]


def test_values_mysql_cannot_hold_are_dirty_not_clipped(mysql_harness: MySQLHarness) -> None:
    schema = TableSchema(TableId("src", "edge"), (
        col("id", Kind.INT, bits=32, nullable=False), col("f", Kind.FLOAT, bits=64),
        col("at", Kind.TIMESTAMP), col("name", Kind.STRING, length=3), col("n", Kind.INT, bits=8, unsigned=True)),
        primary_key=("id",))
    target = mysql_harness.target("edge")
    mysql_harness.sink.prepare(schema, target)
    rows = [(1, 1.5, datetime.datetime(2000, 1, 1, tzinfo=UTC), "abc", 255),
            (2, float("nan"), None, None, None), (3, None, datetime.datetime(2040, 1, 1, tzinfo=UTC), None, None),
            (4, None, None, "abcd", None), (5, None, None, None, 256), (6, None, None, None, -1)]
    reported: list[QuarantinedRow] = []
    assert mysql_harness.sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None), rows,
                                         on_dirty=reported.append) == 1
    assert {r.key: r.column for r in reported} == {(2,): "f", (3,): "at", (4,): "name", (5,): "n", (6,): "n"}
    assert [r[0] for r in mysql_harness.read(schema, target)] == [1]


def test_statements_are_split_to_stay_under_the_size_limit(mysql_harness: MySQLHarness) -> None:
    target = mysql_harness.target("items")
    mysql_harness.sink.prepare(ITEMS, target)
    mysql_harness.sink.statement_chars = 2_000  # a few dozen rows per statement
    mysql_harness.sink.load_chunk(ITEMS, target, Chunk(ITEMS.table, 0, None, None), [item(i) for i in range(500)])
    mysql_harness.sink.write(batch(ITEMS, target, [item(i, name="x") for i in range(0, 500, 2)],
                                   [(i,) for i in range(1, 500, 2)]))
    assert mysql_harness.read(ITEMS, target) == [item(i, name="x") for i in range(0, 500, 2)]
