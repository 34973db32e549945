"""The mapping JSON inside TaskSpec.from_json: every problem collected with its path; targets resolved."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.spec import SpecError, TaskSpec


def spec(mapping: Any, tables: list[Any] | None = None) -> TaskSpec:
    return TaskSpec.from_json({
        "source": {"engine": "mysql", "host": "h"}, "target": {"engine": "postgresql", "host": "h", "database": "d"},
        "tables": tables if tables is not None else ["shop.orders", "shop_1.orders_1", "shop_2.orders_2"],
        "mapping": mapping})


def problems(mapping: Any, tables: list[Any] | None = None) -> list[str]:
    with pytest.raises(SpecError) as error:
        spec(mapping, tables)
    return [f"{path}: {message}" for path, message in error.value.problems]


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems({
        "naming": {"case": "title", "prefix": "a-b"},
        "routes": [{"source": "shop_(", "target": "orders"}, {"source": ".*", "target": "a.b",
                                                             "shard_column_in_key": True}],
        "tables": {"shop.orders": {
            "filter": "status != 'deleted' and amount > 0)",
            "columns": {"include": ["a"], "exclude": ["b"], "rename": {"a": 1}},
            "transforms": [{"column": "c", "type": "rot13"}, {"column": "c", "type": "keep", "first": -1},
                           {"column": "c", "type": "regex_replace", "pattern": "(", "replacement": "x"},
                           {"column": "c", "type": "json_extract", "path": "a.b", "into": "x"},
                           {"column": "c", "type": "hash", "pepper": "x"}],
            "computed": [{"name": "x", "value": "now"}, {"value": "op"}],
            "logical_delete": {"flag_column": ""},
            "drop_ops": ["insert"], "colour": "red"},
            "other.table": {}}})
    assert found == [
        "mapping.naming.case: must be 'lower', 'upper' or null, not 'title'",
        "mapping.naming.prefix: must be letters, digits, '_' or '$'",
        "mapping.routes[0].source: not a regular expression: missing ), unterminated subpattern at position 5",
        "mapping.routes[0].target: table 'orders' must be written as database.table",
        "mapping.routes[1].shard_column_in_key: needs a shard_column to add to the key",
        'mapping.tables["shop.orders"].colour: unknown key; known: target, columns, filter, transforms, computed, '
        "logical_delete, drop_ops",
        'mapping.tables["shop.orders"].columns: give include or exclude, not both',
        'mapping.tables["shop.orders"].columns.rename: must map source column names to new names',
        'mapping.tables["shop.orders"].filter: unexpected \')\' at 34',
        'mapping.tables["shop.orders"].transforms[0].type: must be one of hash, keep, constant, null, replace, '
        "regex_replace, trim, lower, upper, json_extract, json_flatten, not 'rot13'",
        'mapping.tables["shop.orders"].transforms[1].first: must be an integer ≥ 0',
        'mapping.tables["shop.orders"].transforms[2].pattern: not a regular expression: missing ), unterminated '
        "subpattern at position 0",
        'mapping.tables["shop.orders"].transforms[3].path: must be a JSON path like $.a.b or $.items[0].sku',
        'mapping.tables["shop.orders"].transforms[4].pepper: unknown parameter for hash; known: salt',
        'mapping.tables["shop.orders"].computed[0].value: must be one of source_database, source_table, '
        'commit_time, op or {"constant": value}',
        'mapping.tables["shop.orders"].computed[1].name: is required: the new column\'s name',
        'mapping.tables["shop.orders"].logical_delete.flag_column: must be a column name',
        'mapping.tables["shop.orders"].drop_ops: must be a list of delete, ddl',
        'mapping.tables["other.table"]: is not one of the task\'s tables',
    ]


def test_targets_come_from_rules_then_routes_then_naming() -> None:
    resolved = spec({
        "naming": {"case": "lower", "prefix": "ods_", "suffix": "_v1"},
        "routes": [{"source": r"shop_\d+\.orders_\d+", "target": "shop.all_orders", "shard_column": "src"}],
        "tables": {"shop.orders": {"target": "sales.Orders"}}},
        ["shop.orders", "shop_1.orders_1", "shop_2.orders_2", "Shop.Items", {"source": "shop.x", "target": "k.X"}])
    assert [str(m.target) for m in resolved.tables] == [
        "sales.Orders", "shop.all_orders", "shop.all_orders", "shop.ods_items_v1", "k.X"]
    again = TaskSpec.from_json(resolved.to_json(with_passwords=True))
    assert again.tables == resolved.tables, "the stored JSON resolves to the same targets"


def test_two_tables_may_share_a_target_only_through_a_route() -> None:
    assert problems({}, [{"source": "a.x", "target": "t.x"}, {"source": "b.x", "target": "t.x"}]) == [
        "tables[1]: target t.x is also the target of tables[0]; merge tables into one with mapping.routes"]
    merged = spec({"routes": [{"source": r"[ab]\.x", "target": "t.x"}]}, ["a.x", "b.x"])
    assert {str(m.target) for m in merged.tables} == {"t.x"}


def test_a_spec_without_mapping_is_unchanged() -> None:
    plain = spec(None, ["shop.orders"])
    assert plain.to_json()["mapping"] == {} and str(plain.tables[0].target) == "shop.orders"
    assert problems({"tables": [1]}) == ['mapping.tables: must be an object keyed by source "db.table"']
