"""TablePlans on their own: target schemas, row values, how each change event is mapped, and rule errors."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from typing import Any

import pytest

from connectors.events import DELETE, INSERT, UPDATE, ChangeEvent
from connectors.transform import Mapper, MappingError, TransformError, parse_mapping
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

TABLE = TableId("shop", "orders")
SCHEMA = TableSchema(TABLE, (
    ColumnSchema("id", CanonicalType(Kind.INT, bits=32), nullable=False),
    ColumnSchema("status", CanonicalType(Kind.STRING, length=16)),
    ColumnSchema("amount", CanonicalType(Kind.DECIMAL, precision=8, scale=2)),
    ColumnSchema("card", CanonicalType(Kind.STRING, length=32)),
    ColumnSchema("doc", CanonicalType(Kind.JSON)),
), primary_key=("id",))


def plan(rules: dict[str, Any], routes: list[Any] | None = None, targets: dict[TableId, TableId] | None = None,
         schema: TableSchema = SCHEMA) -> Any:
    problems: list[tuple[str, str]] = []
    mapping = parse_mapping({"tables": {str(schema.table): rules}, "routes": routes or []}, problems)
    assert problems == []
    return Mapper(mapping, targets or {schema.table: schema.table}).plan(schema)


def event(op: str, before: tuple[Any, ...] | None, after: tuple[Any, ...] | None) -> ChangeEvent:
    return ChangeEvent(op, TABLE, SCHEMA, before, after, 1_700_000_000.5, None)


ROW = (1, "paid", Decimal("5.00"), "4111222233334444", '{"a": {"b": [10, 20]}, "x": null}')


def test_an_empty_rule_set_is_the_identity() -> None:
    same = plan({})
    assert same.identity and same.target_schema.columns == SCHEMA.columns and same.row(ROW) is ROW


def test_masks_and_json() -> None:
    masked = plan({"transforms": [
        {"column": "card", "type": "keep", "first": 2, "last": 4, "mask": "#"},
        {"column": "status", "type": "hash", "salt": "s"},
        {"column": "amount", "type": "null"},
        {"column": "doc", "type": "json_extract", "path": "$.a.b[1]", "into": "second"},
        {"column": "doc", "type": "json_flatten", "keys": ["a", "x", "missing"], "prefix": "j_"}]})
    assert masked.target_schema.column_names == ("id", "status", "amount", "card", "doc", "second", "j_a", "j_x",
                                                 "j_missing")
    assert masked.target_schema.column("status").type.length == 64
    assert masked.row(ROW) == (1, hashlib.sha256(b"spaid").hexdigest(), None, "41##########4444", ROW[4], "20",
                               '{"b": [10, 20]}', None, None)
    with pytest.raises(TransformError, match="column 'doc' is not valid JSON") as error:
        masked.row((2, "x", None, None, "{oops"))
    assert error.value.column == "doc"


def test_short_values_are_kept_whole_by_keep() -> None:
    keep = plan({"transforms": [{"column": "card", "type": "keep", "first": 2, "last": 2}]})
    assert keep.row((1, None, None, "abcd", None))[3] == "abcd"
    assert keep.row((1, None, None, "abcde", None))[3] == "ab*de"


def test_an_update_crossing_the_filter_becomes_a_delete_or_an_insert() -> None:
    filtered = plan({"filter": "status == 'open'"})
    opened, closed = (1, "open", None, None, None), (1, "closed", None, None, None)
    assert [e.op for e in filtered.events(event(UPDATE, opened, closed))] == [DELETE]
    (inserted,) = filtered.events(event(UPDATE, closed, opened))
    assert inserted.op == INSERT and inserted.after == opened and inserted.before is None
    assert [e.op for e in filtered.events(event(UPDATE, opened, opened))] == [UPDATE]
    assert filtered.events(event(UPDATE, closed, closed)) == []
    assert filtered.events(event(INSERT, None, closed)) == [] and filtered.events(event(DELETE, closed, None)) == []


def test_a_logical_delete_is_an_update_of_the_flag_and_time() -> None:
    logical = plan({"logical_delete": {"flag_column": "gone", "time_column": "gone_at"},
                    "computed": [{"name": "how", "value": "op"}, {"name": "v", "value": {"constant": 3}}]})
    assert logical.target_schema.column_names[-4:] == ("how", "v", "gone", "gone_at")
    assert logical.row(ROW)[-4:] == ("snapshot", 3, False, None)
    (update,) = logical.events(event(DELETE, ROW, None))
    assert update.op == UPDATE and update.schema is logical.target_schema
    assert update.after[-4:] == ("delete", 3, True, datetime.datetime.fromtimestamp(1_700_000_000.5, datetime.UTC))
    assert plan({"drop_ops": ["delete"]}).events(event(DELETE, ROW, None)) == []


def test_routed_shards_get_the_shard_column_in_their_key() -> None:
    shard = TableSchema(TableId("shop_1", "orders_1"), SCHEMA.columns, ("id",), (("card",),))
    merged = TableId("shop", "orders")
    routes = [{"source": r"shop_\d\.orders_\d", "target": "shop.orders", "shard_column": "src",
               "shard_column_in_key": True}]
    targets = {shard.table: merged, TableId("shop_2", "orders_2"): merged}
    routed = Mapper(parse_mapping({"routes": routes}, []), targets).plan(shard)
    assert routed.target_schema.primary_key == ("id", "src") and routed.target_schema.unique_keys == ()
    assert routed.row(ROW)[-1] == "shop_1.orders_1" and routed.upsert_snapshot


@pytest.mark.parametrize(("rules", "message"), [
    ({"columns": {"exclude": ["id"]}}, "key column 'id' cannot be left out"),
    ({"columns": {"include": ["nope", "id"]}}, "shop.orders has no column 'nope'"),
    ({"transforms": [{"column": "id", "type": "hash"}]}, "key column 'id' cannot be transformed"),
    ({"transforms": [{"column": "amount", "type": "upper"}]}, "upper needs a text or JSON column"),
    ({"columns": {"rename": {"card": "status"}}}, "two target columns are named 'status'"),
    ({"filter": "colour == 'red'"}, "filter: unknown column 'colour' at 0"),
])
def test_rules_that_do_not_fit_the_table_name_the_rule(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message) as error:
        plan(rules)
    assert str(error.value).startswith('mapping.tables["shop.orders"]')
