"""What only the PostgreSQL sink does: its type mapping, its dirty values, database creation."""

from __future__ import annotations

import pytest

from connectors.base import Chunk
from connectors.postgresql.sink import SMALL_BATCH, PostgreSQLSink
from connectors.quarantine import DirtyRowError, QuarantinedRow
from connectors.types import Kind, TableId, TableSchema
from dts.localservers import PostgresServer
from tests.connectors.sinks.conftest import PostgresHarness, pg_sink_config
from tests.connectors.sinks.data import ALL_TYPES, FLOAT32_MAX, ITEMS, col, item
from tests.connectors.sinks.test_sink_contract import batch, ddl_event, with_columns

EXPECTED_TYPES = {
    "id": "numeric(20,0)", "i8": "smallint", "u8": "smallint", "i16": "smallint", "u16": "integer",
    "i24": "integer", "i32": "integer", "u32": "bigint", "i64": "bigint", "u64": "numeric(20,0)",
    "dec_big": "numeric(65,30)", "dec_money": "numeric(12,2)", "f32": "real", "f64": "double precision",
    "flag": "boolean", "bits1": "bit(1)", "bits12": "bit(12)", "bits64": "bit(64)",
    "name": "character varying(20)", "code": "character varying(4)", "body": "text", "blob": "bytea",
    "hash": "bytea", "mood": "character varying(9)", "tags": "text", "doc": "jsonb", "day": "date",
    "span": "interval", "at": "timestamp(6) without time zone", "at0": "timestamp(0) without time zone",
    "stamp": "timestamp(6) with time zone", "yr": "smallint", "uid": "uuid",
}


def test_it_creates_the_documented_types(pg_harness: PostgresHarness) -> None:
    target = pg_harness.target("all_types")
    pg_harness.sink.prepare(ALL_TYPES, target)
    assert dict(pg_harness.columns(target)) == EXPECTED_TYPES
    assert pg_harness.sink.inspect(target).primary_key == ("id",)


def test_it_creates_the_database_when_missing(postgres: PostgresServer) -> None:
    name = "dts_sink_created_db"
    admin = postgres.connect()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    sink = PostgreSQLSink(pg_sink_config(postgres, name))
    try:
        sink.prepare(ITEMS, TableId("fresh schema", "items"))
        sink.write(batch(ITEMS, TableId("fresh schema", "items"), [item(1)]))
    finally:
        sink.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_values_postgresql_cannot_hold_are_dirty_not_altered(pg_harness: PostgresHarness) -> None:
    schema = TableSchema(TableId("src", "edge"), (col("id", Kind.INT, bits=32, nullable=False),
                                                  col("f", Kind.FLOAT, bits=32), col("doc", Kind.JSON),
                                                  col("bits", Kind.BIT, length=3)), primary_key=("id",))
    target = pg_harness.target("edge")
    pg_harness.sink.prepare(schema, target)
    rows = [(1, FLOAT32_MAX, "{}", 7), (2, 1e39, None, None), (3, None, '{"a": "\x00"}', None),
            (4, None, '"\\u0000"', None), (5, None, None, 8), (6, float("inf"), None, 0)]
    reported: list[QuarantinedRow] = []
    written = pg_harness.sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None), rows,
                                         on_dirty=reported.append)
    assert written == 2
    assert {r.key: r.column for r in reported} == {(2,): "f", (3,): "doc", (4,): "doc", (5,): "bits"}
    assert pg_harness.query('SELECT id, f::float8, bits::text FROM app.edge ORDER BY id') == [
        (1, FLOAT32_MAX, "111"), (6, float("inf"), "000")]


def test_a_row_rejected_outside_copy_is_found_by_bisection(pg_harness: PostgresHarness) -> None:
    # A secondary unique key is only checked by the INSERT ... SELECT, which names no line.
    schema = TableSchema(ITEMS.table, ITEMS.columns, ITEMS.primary_key, unique_keys=(("name",),))
    target = pg_harness.target("items")
    pg_harness.sink.prepare(schema, target)
    rows = [item(i) for i in range(40)] + [item(99, name="item 17")]
    with pytest.raises(DirtyRowError, match="items_name_key"):
        pg_harness.sink.write(batch(schema, target, rows))
    reported: list[QuarantinedRow] = []
    pg_harness.sink.write(batch(schema, target, rows), on_dirty=reported.append)
    assert [r.key for r in reported] == [(99,)] and pg_harness.count(target) == 40


def test_ddl_keeps_bit_values_and_fills_new_not_null_columns(pg_harness: PostgresHarness) -> None:
    schema = TableSchema(TableId("src", "flags"), (col("id", Kind.INT, bits=32, nullable=False),
                                                   col("bits", Kind.BIT, length=4)), primary_key=("id",))
    target = pg_harness.target("flags")
    pg_harness.sink.prepare(schema, target)
    pg_harness.sink.write(batch(schema, target, [(1, 5), (2, 15)]))
    wider = with_columns(schema, schema.columns[0], col("bits", Kind.BIT, length=8),
                         col("count", Kind.INT, bits=32, nullable=False), col("label", Kind.ENUM, nullable=False,
                                                                                 values=("on", "off")))
    pg_harness.sink.apply_ddl(ddl_event("ALTER TABLE flags MODIFY bits BIT(8), ADD count INT NOT NULL, "
                                        "ADD label ENUM('on','off') NOT NULL", wider), target)
    # MySQL fills existing rows with the implicit default and logs nothing for them: so must we.
    assert pg_harness.query("SELECT id, bits::bigint, count, label FROM app.flags ORDER BY id") == [
        (1, 5, 0, "on"), (2, 15, 0, "on")]


def test_small_and_staged_writes_agree(pg_harness: PostgresHarness) -> None:
    target = pg_harness.target("items")
    pg_harness.sink.prepare(ITEMS, target)
    # With the one delete: at the small path's limit, one row over it, and well over it.
    for size in (1, SMALL_BATCH - 1, SMALL_BATCH, 200):
        rows = [item(i, name=f"size {size}") for i in range(size)]
        pg_harness.sink.write(batch(ITEMS, target, rows, [(size + 1000,)]))
        assert pg_harness.read(ITEMS, target)[:size] == rows
