"""The DDL planner: statement text for what a comparison cannot tell, shape comparison for the rest."""

from __future__ import annotations

import pytest

from connectors.sql_ddl import (
    AddColumn,
    AlterColumn,
    CreateTable,
    DdlOp,
    DropColumn,
    DropTable,
    RenameColumn,
    RenameTable,
    SetPrimaryKey,
    TargetColumn,
    TargetShape,
    TruncateTable,
    parse_statement,
    plan,
)
from connectors.types import ColumnSchema, Kind, TableId, TableSchema
from tests.connectors.sinks.data import col

T = TableId("db", "t")


def same_type(current: TargetColumn, column: ColumnSchema) -> bool:
    return current.type == f"{column.type.kind.value}{column.type.length or ''}"


def shape(*columns: tuple[str, str], primary_key: tuple[str, ...] = ("id",)) -> TargetShape:
    return TargetShape(tuple(TargetColumn(name, type_text, name not in primary_key) for name, type_text in columns),
                       primary_key)


def schema(*columns: ColumnSchema, primary_key: tuple[str, ...] = ("id",)) -> TableSchema:
    return TableSchema(TableId("src", "t"), columns, primary_key)


ID = col("id", Kind.INT, nullable=False)
CURRENT = shape(("id", "int"), ("a", "string10"), ("b", "int"))


def planned(statement: str, new: TableSchema | None, tables: dict[TableId, TargetShape | None] | None = None,
            source_name: str | None = None) -> list[DdlOp]:
    known = tables if tables is not None else {T: CURRENT}
    return plan(statement, new, T, lambda table: known.get(table), same_type, source_name)


@pytest.mark.parametrize(("statement", "kind", "tables", "columns"), [
    ("RENAME TABLE `a` TO `b`", "rename", (("a", "b"),), ()),
    ("rename table db.a to db.`b``c`, x TO y", "rename", (("a", "b`c"), ("x", "y")), ()),
    ("ALTER TABLE a RENAME TO b", "alter", (("a", "b"),), ()),
    ("ALTER TABLE `a` ADD COLUMN c INT, RENAME AS `b`", "alter", (("a", "b"),), ()),
    ("ALTER TABLE a RENAME COLUMN x TO y", "alter", (), (("x", "y"),)),
    ("ALTER TABLE a RENAME INDEX i TO j", "alter", (), ()),
    ("ALTER TABLE a CHANGE `x` `y y` BIGINT NOT NULL, CHANGE COLUMN p q INT", "alter", (), (("x", "y y"), ("p", "q"))),
    ("ALTER TABLE a ADD c INT COMMENT 'rename column x to y' /* CHANGE p q */", "alter", (), ()),
    ("/* comment */ TRUNCATE TABLE a", "truncate", (), ()),
    ("DROP TABLE IF EXISTS a", "drop", (), ()),
    ("CREATE TABLE a (id INT)", "create", (), ()),
    ("CREATE INDEX i ON a (x)", "other", (), ()),
])
def test_it_reads_only_kind_and_renames_from_the_statement(statement: str, kind: str, tables: tuple[object, ...],
                                                           columns: tuple[object, ...]) -> None:
    parsed = parse_statement(statement)
    assert (parsed.kind, parsed.table_renames, parsed.column_renames) == (kind, tables, columns)


def test_a_dropped_table_is_dropped_and_a_missing_one_created() -> None:
    assert planned("DROP TABLE t", None) == [DropTable(T)]
    new = schema(ID)
    assert planned("CREATE TABLE t (id INT)", new, {}) == [CreateTable(T, new)]


def test_columns_are_compared_not_parsed() -> None:
    new = schema(ID, col("a", Kind.STRING, length=20), col("c", Kind.STRING, length=1))
    ops = planned("ALTER TABLE t whatever", new)
    assert ops == [DropColumn(T, "b"), AddColumn(T, new.columns[2], "a"),
                   AlterColumn(T, new.columns[1], CURRENT.columns[1], True, False)]


def test_one_out_one_in_at_the_same_place_with_the_same_type_is_a_rename() -> None:
    new = schema(ID, col("a", Kind.STRING, length=10), col("renamed", Kind.INT))
    assert planned("ALTER TABLE t x", new) == [RenameColumn(T, "b", "renamed")]
    moved = schema(ID, col("renamed", Kind.INT), col("a", Kind.STRING, length=10))
    assert planned("ALTER TABLE t x", moved) == [DropColumn(T, "b"), AddColumn(T, moved.columns[1], "id")]
    retyped = schema(ID, col("a", Kind.STRING, length=10), col("renamed", Kind.STRING, length=3))
    assert RenameColumn(T, "b", "renamed") not in planned("ALTER TABLE t x", retyped)


def test_the_statement_names_renames_the_comparison_cannot_see() -> None:
    # Two columns renamed at once, and one of them retyped by CHANGE.
    new = schema(ID, col("x", Kind.STRING, length=10), col("y", Kind.STRING, length=5))
    ops = planned("ALTER TABLE t CHANGE a x VARCHAR(10), CHANGE COLUMN b y VARCHAR(5)", new)
    assert ops == [RenameColumn(T, "a", "x"), RenameColumn(T, "b", "y"),
                   AlterColumn(T, new.columns[2], CURRENT.columns[2], True, False)]
    swapped = schema(ID, col("b", Kind.STRING, length=10), col("a", Kind.INT))
    assert [op for op in planned("ALTER TABLE t RENAME COLUMN a TO b, RENAME COLUMN b TO a", swapped)
            if isinstance(op, RenameColumn)] == []  # a swap is not guessed


def test_table_renames_work_from_either_side_and_replay_as_nothing() -> None:
    old, new_id = TableId("db", "old"), TableId("db", "t")
    new = schema(ID, col("a", Kind.STRING, length=10), col("b", Kind.INT))
    assert planned("RENAME TABLE old TO t", new, {old: CURRENT}, "t") == [RenameTable(old, new_id)]
    assert planned("RENAME TABLE old TO t", new, {new_id: CURRENT}, "t") == []
    # target names the old table when the event's table is the old name
    ops = plan("RENAME TABLE t TO newer", new, T, lambda table: CURRENT if table == T else None, same_type, "t")
    assert ops == [RenameTable(T, TableId("db", "newer"))]


def test_truncate_and_key_changes() -> None:
    same = schema(ID, col("a", Kind.STRING, length=10), col("b", Kind.INT))
    assert planned("TRUNCATE t", same) == [TruncateTable(T)]
    rekeyed = schema(ID, col("a", Kind.STRING, length=10, nullable=False), col("b", Kind.INT),
                     primary_key=("id", "a"))
    assert planned("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, a)", rekeyed) == [
        AlterColumn(T, rekeyed.columns[1], CURRENT.columns[1], False, True), SetPrimaryKey(T, ("id", "a"))]
