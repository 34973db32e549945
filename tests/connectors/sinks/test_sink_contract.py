"""What every SQL sink does, checked on PostgreSQL and MariaDB alike (see conftest.Harness)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Batch, Chunk, TableBatch
from connectors.errors import ConnectorError
from connectors.events import DDL, ChangeEvent
from connectors.quarantine import DirtyRowError, QuarantinedRow
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema
from tests.connectors.sinks.conftest import Harness
from tests.connectors.sinks.data import ALL_ROWS, ALL_TYPES, ITEMS, ODD, col, compare_rows, item

WHOLE = Chunk(ITEMS.table, 0, None, None)


def batch(schema: TableSchema, target: TableId, upserts: list[tuple[Any, ...]] = (),  # type: ignore[assignment]
          deletes: list[tuple[Any, ...]] = ()) -> Batch:  # type: ignore[assignment]
    indexes = schema.key_indexes()
    return Batch({schema.table: TableBatch(schema, target, {tuple(r[i] for i in indexes): r for r in upserts},
                                           set(deletes))})


def ddl_event(statement: str, schema: TableSchema | None, table: TableId | None = None) -> ChangeEvent:
    return ChangeEvent(DDL, table or (schema.table if schema else None), schema, None, None, 0.0, None,
                       ddl=statement)


def with_columns(schema: TableSchema, *columns: ColumnSchema, name: str | None = None,
                 primary_key: tuple[str, ...] | None = None) -> TableSchema:
    return TableSchema(TableId(schema.table.database, name or schema.table.name), tuple(columns),
                       primary_key if primary_key is not None else schema.primary_key, version=schema.version + 1)


# Every canonical type


def test_it_round_trips_every_canonical_type(harness: Harness) -> None:
    target = harness.target("all_types")
    harness.sink.prepare(ALL_TYPES, target)
    assert harness.sink.load_chunk(ALL_TYPES, target, Chunk(ALL_TYPES.table, 0, None, None), ALL_ROWS) == 3
    compare_rows(ALL_TYPES, sorted(ALL_ROWS, key=lambda r: r[0]), harness.read(ALL_TYPES, target))


def test_write_round_trips_every_canonical_type_on_both_paths(harness: Harness) -> None:
    target = harness.target("all_types")
    harness.sink.prepare(ALL_TYPES, target)
    harness.sink.write(batch(ALL_TYPES, target, ALL_ROWS))  # small: one round trip
    compare_rows(ALL_TYPES, sorted(ALL_ROWS, key=lambda r: r[0]), harness.read(ALL_TYPES, target))
    many = [(i, *row[1:]) for i, row in enumerate(ALL_ROWS * 10, start=100)]
    harness.sink.write(batch(ALL_TYPES, target, many))  # large: staged (PostgreSQL), batched (MySQL)
    compare_rows(ALL_TYPES, sorted(ALL_ROWS + many, key=lambda r: r[0]), harness.read(ALL_TYPES, target))


def test_it_refuses_an_unknown_type_naming_table_and_column(harness: Harness) -> None:
    shape = ColumnSchema("shape", CanonicalType(Kind.UNKNOWN, native="geometry"))
    schema = TableSchema(TableId("src", "geo"), (col("id", Kind.INT, bits=32, nullable=False), shape),
                         primary_key=("id",))
    with pytest.raises(ConnectorError, match=r"src\.geo.*'shape'.*geometry"):
        harness.sink.prepare(schema, harness.target("geo"))
    assert not harness.exists(harness.target("geo"))


# Snapshot chunks


def test_a_rerun_chunk_leaves_exactly_one_copy(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    chunks = [Chunk(ITEMS.table, 0, None, (100,)), Chunk(ITEMS.table, 1, (100,), (200,)),
              Chunk(ITEMS.table, 2, (200,), None)]
    for chunk, low in zip(chunks, (0, 100, 200), strict=True):
        harness.sink.load_chunk(ITEMS, target, chunk, [item(i) for i in range(low, low + 100)])
    # The middle chunk again, as after a crash: its range is replaced, its neighbours untouched.
    rerun = [item(i, name="again") for i in range(100, 200, 2)]
    assert harness.sink.load_chunk(ITEMS, target, chunks[1], iter(rerun)) == 50
    rows = harness.read(ITEMS, target)
    assert len(rows) == 250
    assert [r[0] for r in rows] == list(range(100)) + list(range(100, 200, 2)) + list(range(200, 300))
    assert {r[1] for r in rows if 100 <= r[0] < 200} == {"again"}


def test_composite_keys_and_identifiers_that_need_quoting(harness: Harness) -> None:
    target = harness.target("odd table")
    harness.sink.prepare(ODD, target)
    rows = [(tenant, i, f'say "hi" `{i}`', i % 3) for tenant in ("a", "b", "c") for i in range(10)]
    first, second = Chunk(ODD.table, 0, None, ("b", 5)), Chunk(ODD.table, 1, ("b", 5), None)
    harness.sink.load_chunk(ODD, target, first, [r for r in rows if (r[0], r[1]) < ("b", 5)])
    harness.sink.load_chunk(ODD, target, second, [r for r in rows if (r[0], r[1]) >= ("b", 5)])
    harness.sink.load_chunk(ODD, target, second, [r for r in rows if (r[0], r[1]) >= ("b", 5)])
    assert harness.read(ODD, target) == rows
    harness.sink.write(batch(ODD, target, [("b", 5, "changed", 7), ("z", 1, None, None)], [("a", 0), ("q", 9)]))
    result = harness.read(ODD, target)
    assert ("b", 5, "changed", 7) in result and ("z", 1, None, None) in result
    assert all((r[0], r[1]) != ("a", 0) for r in result) and len(result) == 30


# Change batches


@pytest.mark.parametrize("padding", [0, 40], ids=["small-batch", "large-batch"])
def test_write_merges_by_key_and_a_replay_changes_nothing(harness: Harness, padding: int) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(i) for i in range(1, 6)])
    extra = [item(i) for i in range(1000, 1000 + padding)]
    change = batch(ITEMS, target, [item(2, name="two", qty=-1), item(10, name="ten"), *extra], [(3,), (99,)])
    harness.sink.write(change)
    expected = [item(1), item(2, name="two", qty=-1), item(4), item(5), item(10, name="ten"), *extra]
    assert harness.read(ITEMS, target) == expected
    harness.sink.write(change)  # a replay after a crash before the checkpoint
    assert harness.read(ITEMS, target) == expected


def test_write_applies_several_tables_in_one_transaction(harness: Harness) -> None:
    items, odd = harness.target("items"), harness.target("odd table")
    harness.sink.prepare(ITEMS, items)
    harness.sink.prepare(ODD, odd)
    both = Batch({ITEMS.table: TableBatch(ITEMS, items, {(i,): item(i) for i in range(20)}),
                  ODD.table: TableBatch(ODD, odd, {("a", 1): ("a", 1, None, None)}, {("a", 2)})})
    harness.sink.write(both)
    assert harness.count(items) == 20 and harness.count(odd) == 1


# Tables


def test_prepare_keeps_a_matching_table_and_its_rows(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1)])
    harness.sink.prepare(ITEMS, target, if_exists="keep")
    assert harness.count(target) == 1


def test_prepare_keep_lists_the_differences_of_another_shape(harness: Harness) -> None:
    target = harness.target("items")
    other = with_columns(ITEMS, ITEMS.columns[0], col("name", Kind.STRING, length=99), ITEMS.columns[2],
                         col("extra", Kind.INT, bits=16))
    harness.sink.prepare(other, target)
    with pytest.raises(ConnectorError) as raised:
        harness.sink.prepare(ITEMS, target, if_exists="keep")
    message = str(raised.value)
    assert "different shape" in message and str(target) in message
    assert "'name'" in message and "'price' is missing" in message and "'extra' exists only at the target" in message


def test_prepare_drop_truncate_and_fail(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1), item(2)])
    harness.sink.prepare(ITEMS, target, if_exists="truncate")
    assert harness.count(target) == 0
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1)])
    wider = with_columns(ITEMS, *ITEMS.columns, col("note", Kind.STRING))
    harness.sink.prepare(wider, target, if_exists="drop")
    assert harness.count(target) == 0 and [name for name, _ in harness.columns(target)][-1] == "note"
    with pytest.raises(ConnectorError, match="already exists"):
        harness.sink.prepare(wider, target, if_exists="fail")
    with pytest.raises(ValueError, match="if_exists"):
        harness.sink.prepare(wider, target, if_exists="replace")


def test_deferred_unique_keys_are_built_by_finish_table(harness: Harness) -> None:
    schema = TableSchema(ITEMS.table, ITEMS.columns, ITEMS.primary_key, unique_keys=(("name",),))
    target = harness.target("items")
    harness.sink.prepare(schema, target, defer_indexes=True)
    harness.sink.load_chunk(schema, target, WHOLE, [item(1), item(2)])
    shape = harness.sink.inspect(target)
    assert shape.primary_key == ("id",) and shape.unique_keys == ()
    harness.sink.finish_table(schema, target)
    harness.sink.finish_table(schema, target)  # idempotent
    assert harness.sink.inspect(target).unique_keys == (("name",),)


def test_a_table_keyed_by_a_not_null_unique_key_gets_upserts(harness: Harness) -> None:
    schema = TableSchema(TableId("src", "by_code"), (col("code", Kind.STRING, length=8, nullable=False),
                                                     col("n", Kind.INT, bits=32)), unique_keys=(("code",),))
    target = harness.target("by_code")
    harness.sink.prepare(schema, target)
    harness.sink.write(batch(schema, target, [("a", 1), ("b", 2)]))
    harness.sink.write(batch(schema, target, [("a", 3)], [("b",)]))
    assert harness.read(schema, target) == [("a", 3)]


# Schema changes


def test_ddl_adds_drops_retypes_and_renames_columns(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1), item(2)])
    sink = harness.sink

    added = with_columns(ITEMS, *ITEMS.columns, col("note", Kind.STRING, length=10))
    sink.apply_ddl(ddl_event("ALTER TABLE items ADD COLUMN note VARCHAR(10)", added), target)
    assert [name for name, _ in harness.columns(target)] == ["id", "name", "qty", "price", "note"]

    dropped = with_columns(added, *added.columns[:2], *added.columns[3:])
    sink.apply_ddl(ddl_event("ALTER TABLE items DROP COLUMN qty", dropped), target)
    assert [name for name, _ in harness.columns(target)] == ["id", "name", "price", "note"]

    retyped = with_columns(dropped, dropped.columns[0], col("name", Kind.STRING, length=200), *dropped.columns[2:])
    sink.apply_ddl(ddl_event("ALTER TABLE items MODIFY name VARCHAR(200)", retyped), target)
    assert "200" in dict(harness.columns(target))["name"]

    # Named by the statement: the data stays with the column.
    renamed = with_columns(retyped, retyped.columns[0], col("title", Kind.STRING, length=200), *retyped.columns[2:])
    sink.apply_ddl(ddl_event("ALTER TABLE items RENAME COLUMN name TO title", renamed), target)
    assert [r[1] for r in harness.read(renamed, target)] == ["item 1", "item 2"]

    # Not named (another dialect's text): one column out, one in, same place, same type.
    again = with_columns(renamed, renamed.columns[0], col("label", Kind.STRING, length=200), *renamed.columns[2:])
    sink.apply_ddl(ddl_event("ALTER TABLE items something the parser does not know", again), target)
    assert [r[1] for r in harness.read(again, target)] == ["item 1", "item 2"]

    sink.apply_ddl(ddl_event("ALTER TABLE items RENAME COLUMN title TO label", again), target)  # a replay
    assert sink.plan_ddl(ddl_event("ALTER TABLE items CHANGE title label VARCHAR(200)", again), target) == []
    sink.write(batch(again, target, [(3, "three", None, None)]))
    assert harness.read(again, target)[-1] == (3, "three", None, None)


def test_ddl_creates_drops_renames_and_truncates_tables(harness: Harness) -> None:
    sink = harness.sink
    items = harness.target("items")
    sink.apply_ddl(ddl_event("CREATE TABLE items (id BIGINT PRIMARY KEY, ...)", ITEMS), items)
    assert harness.exists(items)
    sink.write(batch(ITEMS, items, [item(1), item(2)]))

    sink.apply_ddl(ddl_event("TRUNCATE TABLE items", ITEMS), items)
    assert harness.count(items) == 0
    sink.write(batch(ITEMS, items, [item(3)]))

    renamed = with_columns(ITEMS, *ITEMS.columns, name="goods")
    goods = harness.target("goods")
    sink.apply_ddl(ddl_event("RENAME TABLE `items` TO `goods`", renamed, renamed.table), goods)
    assert not harness.exists(items) and harness.read(renamed, goods) == [item(3)]
    sink.apply_ddl(ddl_event("RENAME TABLE `items` TO `goods`", renamed, renamed.table), goods)  # a replay
    assert harness.read(renamed, goods) == [item(3)]

    back = with_columns(ITEMS, *ITEMS.columns)
    sink.apply_ddl(ddl_event("ALTER TABLE goods RENAME TO items", back, TableId("src", "goods")), goods)
    assert harness.exists(items) and not harness.exists(goods)

    sink.apply_ddl(ddl_event("DROP TABLE items", None, ITEMS.table), items)
    assert not harness.exists(items)
    sink.apply_ddl(ddl_event("DROP TABLE items", None, ITEMS.table), items)  # a replay


# Dirty rows


def dirty_value(harness: Harness) -> tuple[str, str, Any, str]:
    """(column, kind of problem, value, words the reason must contain) the engine's target refuses."""
    if harness.engine == "postgresql":
        return "name", "NUL", "bad\x00name", "NUL"
    return "qty", "out of range", 2**40, "Out of range"


def test_a_dirty_row_fails_the_chunk_naming_table_key_and_column_and_commits_nothing(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1), item(2)])
    column, _, value, words = dirty_value(harness)
    bad = list(item(7))
    bad[ITEMS.column_names.index(column)] = value
    with pytest.raises(DirtyRowError) as raised:
        harness.sink.load_chunk(ITEMS, target, WHOLE, [item(5), tuple(bad), item(9)])
    error = raised.value
    assert error.table == "src.items" and error.key == (7,) and error.column == column and words in error.reason
    assert "src.items" in str(error) and "id=7" in str(error) and repr(column) in str(error)
    assert harness.read(ITEMS, target) == [item(1), item(2)]  # the range delete was rolled back too


def test_with_on_dirty_the_good_rows_land_and_the_bad_one_is_reported(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    column, _, value, words = dirty_value(harness)
    bad = list(item(7))
    bad[ITEMS.column_names.index(column)] = value
    rows = [item(i) for i in range(1, 100) if i != 7]
    rows.insert(6, tuple(bad))
    reported: list[QuarantinedRow] = []
    chunk = Chunk(ITEMS.table, 3, None, None)
    assert harness.sink.load_chunk(ITEMS, target, chunk, rows, on_dirty=reported.append) == 98
    assert [r[0] for r in harness.read(ITEMS, target)] == [i for i in range(1, 100) if i != 7]
    (dirty,) = reported
    assert (dirty.table, dirty.key, dirty.column) == ("src.items", (7,), column) and words in dirty.error
    assert dirty.row["id"] == 7 and dirty.position == {"chunk": chunk.to_json()}
    assert dirty.to_json()["key"] == [7]


@pytest.mark.parametrize("padding", [0, 40], ids=["small-batch", "large-batch"])
def test_a_dirty_row_in_a_batch(harness: Harness, padding: int) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.load_chunk(ITEMS, target, WHOLE, [item(1), item(2)])
    column, _, value, _ = dirty_value(harness)
    bad = list(item(7))
    bad[ITEMS.column_names.index(column)] = value
    rows = [item(3), tuple(bad), *(item(i) for i in range(100, 100 + padding))]
    change = batch(ITEMS, target, rows, [(1,)])
    with pytest.raises(DirtyRowError, match="id=7"):
        harness.sink.write(change)
    assert harness.read(ITEMS, target) == [item(1), item(2)]
    reported: list[QuarantinedRow] = []
    harness.sink.write(change, on_dirty=reported.append)
    assert [r.key for r in reported] == [(7,)]
    assert [r[0] for r in harness.read(ITEMS, target)] == [2, 3, *range(100, 100 + padding)]


def test_invalid_json_is_a_dirty_row(harness: Harness) -> None:
    schema = TableSchema(TableId("src", "docs"), (col("id", Kind.INT, bits=32, nullable=False), col("doc", Kind.JSON)),
                         primary_key=("id",))
    target = harness.target("docs")
    harness.sink.prepare(schema, target)
    reported: list[QuarantinedRow] = []
    rows = [(1, '{"ok": true}'), (2, '{"broken": '), (3, "[1, 2]")]
    assert harness.sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None), rows,
                                   on_dirty=reported.append) == 2
    assert [r.key for r in reported] == [(2,)]
    assert [r[0] for r in harness.read(schema, target)] == [1, 3]


def test_a_ddl_the_target_refuses_is_a_clear_error(harness: Harness) -> None:
    target = harness.target("items")
    harness.sink.prepare(ITEMS, target)
    harness.sink.write(batch(ITEMS, target, [(1, None, 1, None)]))
    strict = with_columns(ITEMS, ITEMS.columns[0], col("name", Kind.STRING, length=32, nullable=False),
                          *ITEMS.columns[2:])
    with pytest.raises(ConnectorError, match=r"could not apply 'ALTER TABLE items MODIFY name .*' to .*items"):
        harness.sink.apply_ddl(ddl_event("ALTER TABLE items MODIFY name VARCHAR(32) NOT NULL", strict), target)


def test_names_the_target_would_shorten_are_refused(harness: Harness) -> None:
    long_name = "a_column_name_" + "x" * 60
    schema = with_columns(ITEMS, *ITEMS.columns, col(long_name, Kind.INT))
    with pytest.raises(ConnectorError, match=long_name):
        harness.sink.prepare(schema, harness.target("items"))
