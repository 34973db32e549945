"""Compares through a sync task's mapping: rows are compared as the task lands them.

Each table is copied by the real pipeline (a full-mode TaskRunner with the mapping), then compared
with the task's Mapper: renames, left-out columns, filters, masks, hashes and constants give no
difference; the commit time and a logical delete's flag rows are not reported; planted differences
are found under the target's column names; shards merged with a shard column are compared per
shard; repair writes the mapped row through the sink.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from connectors.compare.options import CompareOptions
from connectors.compare.repair import repair, repair_sql
from connectors.compare.run import close_compare, compare_tables, open_compare, task_mapper
from connectors.compare.table_compare import DIFFERENT, EXTRA, MISSING
from connectors.errors import ConnectorError
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from tests.connectors.compare.conftest import Pair, Side, insert_rows

pytestmark = [pytest.mark.timeout(300)]

_server_ids = itertools.count(720_000)
OPTIONS = CompareOptions(chunk_size=60, leaf_rows=8, fanout=4)
PEOPLE = ("CREATE TABLE {table} (id INT PRIMARY KEY, full_name VARCHAR(40), secret VARCHAR(20), "
          "card VARCHAR(20), email VARCHAR(40), status VARCHAR(10), amount DECIMAL(10,2))")
ROWS = 240
CLOSED = {i for i in range(1, ROWS + 1) if i % 7 == 0}  # left out by the filter


def people_rows() -> list[tuple[Any, ...]]:
    return [(i, f"Person {i}", f"s{i}", f"4111000011{i:06d}", f"p{i}@example.com",
             "closed" if i in CLOSED else "open", Decimal(i) / 4) for i in range(1, ROWS + 1)]


def people_mapping(table: str) -> dict[str, Any]:
    return {"tables": {table: {
        "columns": {"exclude": ["secret"], "rename": {"full_name": "name"}},
        "filter": "status != 'closed'",
        "transforms": [{"column": "card", "type": "keep", "last": 4, "mask": "*"},
                       {"column": "email", "type": "hash", "salt": "pepper"},
                       {"column": "full_name", "type": "upper"}],
        "computed": [{"name": "tier", "value": {"constant": "gold"}}, {"name": "synced_at", "value": "commit_time"},
                     {"name": "op", "value": "op"}],
        "logical_delete": {"flag_column": "is_deleted", "time_column": "deleted_at"}}}}


def copy_mapped(source: Side, target: Side, tables: list[str], mapping: dict[str, Any]) -> TaskSpec:
    spec = TaskSpec.from_json({
        "name": "compare-mapped", "source": source.config.to_dict(with_password=True),
        "target": target.config.to_dict(with_password=True), "mode": "full",
        "tables": [{"source": str(source.table(t)), "target": str(target.table(t))} for t in tables],
        "mapping": mapping, "options": {"server_id": next(_server_ids)}})
    assert TaskRunner(spec, MemoryCheckpointStore()).run() == "completed"
    return spec


def found(differences: list[Any]) -> dict[Any, tuple[str, tuple[str, ...]]]:
    return {d.key[0]: (d.kind, d.columns) for d in differences}


@pytest.fixture(params=["mysql->postgresql", "mysql->mysql"])
def mapped_pair(request: pytest.FixtureRequest) -> Pair:
    fixture = "mysql_to_pg" if request.param == "mysql->postgresql" else "mysql_to_mysql"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def test_mapped_task_compares_clean_then_finds_each_planted_difference_and_repairs(mapped_pair: Pair) -> None:
    src, dst = mapped_pair.source, mapped_pair.target
    src.sql(PEOPLE.format(table=src.qualified("people")))
    insert_rows(src, "people", people_rows())
    spec = copy_mapped(src, dst, ["people"], people_mapping(str(src.table("people"))))
    mapper = task_mapper(spec)
    (mapping,) = spec.tables
    t = dst.qualified("people")
    assert dst.sql(f"SELECT COUNT(*) FROM {t}")[0][0] == ROWS - len(CLOSED)

    (report,) = compare_tables(src.config, dst.config, [mapping], OPTIONS, mapper=mapper)
    assert report.method == "rows" and report.chunks_total > 2
    assert (report.source_rows, report.target_rows) == (ROWS, ROWS - len(CLOSED))
    assert report.differences == []
    # Count mode counts the rows the filter keeps (the source's other rows are not expected at the target).
    (counted,) = compare_tables(src.config, dst.config, [mapping], CompareOptions(mode="count", chunk_size=60),
                                mapper=mapper)
    assert (counted.source_rows, counted.target_rows) == (ROWS - len(CLOSED), ROWS - len(CLOSED))
    # Without the mapping the same tables differ everywhere: the mapping is what makes them equal.
    with pytest.raises(ConnectorError, match="lacks column"):
        compare_tables(src.config, dst.config, [mapping], OPTIONS)

    # Not reproducible, so not compared: the commit time and op of what wrote the row.
    dst.sql(f"UPDATE {t} SET synced_at = NULL, op = 'x' WHERE id = 3")
    # Deleted at the source, flagged at the target (as the stream applies a delete): not extra.
    src.sql(f"DELETE FROM {src.qualified('people')} WHERE id = 10")
    flag_true = "TRUE" if dst.engine == "postgresql" else "1"
    dst.sql(f"UPDATE {t} SET is_deleted = {flag_true} WHERE id = 10")
    (report,) = compare_tables(src.config, dst.config, [mapping], OPTIONS, mapper=mapper)
    assert report.differences == []

    # One difference of each kind, named by the target's columns.
    dst.sql(f"UPDATE {t} SET name = 'SOMEONE ELSE' WHERE id = 5")
    dst.sql(f"UPDATE {t} SET card = '4111000011000006' WHERE id = 6")  # the unmasked value is a difference
    dst.sql(f"UPDATE {t} SET tier = 'silver', amount = amount + 1 WHERE id = 8")
    dst.sql(f"DELETE FROM {t} WHERE id = 20")
    dst.sql(f"UPDATE {t} SET is_deleted = {flag_true} WHERE id = 30")  # flagged while the source has it
    dst.sql(f"INSERT INTO {t} (id, name, card, email, status, amount, tier, is_deleted) "  # filtered out at source
            "VALUES (14, 'X', 'x', 'x', 'closed', 1, 'gold', FALSE)")
    dst.sql(f"INSERT INTO {t} (id, name, card, email, status, amount, tier, is_deleted) "  # not at the source
            "VALUES (5000, 'Y', 'y', 'y', 'open', 1, 'gold', FALSE)")
    (report,) = compare_tables(src.config, dst.config, [mapping], OPTIONS, mapper=mapper)
    assert found(report.differences) == {
        5: (DIFFERENT, ("name",)), 6: (DIFFERENT, ("card",)), 8: (DIFFERENT, ("amount", "tier")),
        20: (MISSING, ()), 30: (MISSING, ()), 14: (EXTRA, ()), 5000: (EXTRA, ())}

    compare = open_compare(src.config, dst.config, mapping, OPTIONS, mapper)
    try:
        different = next(d for d in report.differences if d.key == (5,))
        assert compare.key_json(different.key) == {"id": 5}
        assert compare.row_json(different.target_row) == {
            "id": 5, "name": "SOMEONE ELSE", "card": "************0005", "email": compare.row_json(
                different.source_row)["email"], "status": "open", "amount": "1.25", "tier": "gold"}  # type: ignore[index]
        keys = [d.key for d in report.differences]
        # A logical-delete task's extra rows are not deleted by a repair: it refuses, naming the keys.
        with pytest.raises(ConnectorError, match=r"flags deleted rows") as refused:
            repair(compare, keys, src.config, dst.config)
        assert "(14,), (5000,)" in str(refused.value)
        keys = [k for k in keys if k not in {(14,), (5000,)}]
        # The reviewable SQL holds the mapped row (masked card, renamed column), not the source's.
        text = repair_sql(compare, keys).sql
        assert "************0006" in text and "4111000011000006" not in text and "full_name" not in text
        outcome = repair(compare, keys, src.config, dst.config)
        assert outcome.verified_clean and outcome.upserts == 5
    finally:
        close_compare(compare)
    assert dst.sql(f"SELECT name, card, tier FROM {t} WHERE id = 6") == [("PERSON 6", "************0006", "gold")]
    dst.sql(f"DELETE FROM {t} WHERE id IN (14, 5000)")
    (report,) = compare_tables(src.config, dst.config, [mapping], OPTIONS, mapper=mapper)
    assert report.differences == []


SHARDS = ["orders_1", "orders_2", "orders_3"]
ORDERS = "CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(20), n INT)"


def load_shards(pair: Pair) -> None:
    for number, shard in enumerate(SHARDS):
        pair.source.sql(ORDERS.format(table=pair.source.qualified(shard)))
        insert_rows(pair.source, shard, [(i, f"{shard}-{i}", i * (number + 1)) for i in range(1, 121)])  # same keys


def test_three_shards_merged_with_a_shard_column_are_compared_per_shard(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    load_shards(pair)
    route = {"source": rf"{pair.source.database}\.orders_\d", "target": str(pair.target.table("orders")),
             "shard_column": "src_table", "shard_column_in_key": True}
    spec = copy_mapped(pair.source, pair.target, SHARDS, {"routes": [route]})
    mapper = task_mapper(spec)
    assert len(spec.tables) == 3 and {m.target for m in spec.tables} == {pair.target.table("orders")}
    reports = compare_tables(pair.source.config, pair.target.config, list(spec.tables), OPTIONS, mapper=mapper)
    assert [(r.source_rows, r.target_rows, r.differences) for r in reports] == [(120, 120, [])] * 3

    t = pair.target.qualified("orders")
    first, second, third = (f"{pair.source.database}.{shard}" for shard in SHARDS)
    pair.target.sql(f"UPDATE {t} SET n = -1 WHERE id = 7 AND src_table = %s", [second])
    pair.target.sql(f"DELETE FROM {t} WHERE id = 9 AND src_table = %s", [third])
    pair.target.sql(f"INSERT INTO {t} (id, v, n, src_table) VALUES (500, 'ghost', 0, %s)", [first])
    reports = compare_tables(pair.source.config, pair.target.config, list(spec.tables), OPTIONS, mapper=mapper)
    assert [found(r.differences) for r in reports] == [{500: (EXTRA, ())}, {7: (DIFFERENT, ("n",))},
                                                       {9: (MISSING, ())}]

    for report in reports:
        compare = open_compare(pair.source.config, pair.target.config, report.mapping, OPTIONS, mapper)
        try:
            assert repair(compare, [d.key for d in report.differences], pair.source.config,
                          pair.target.config).verified_clean
        finally:
            close_compare(compare)
    assert pair.target.sql(f"SELECT n FROM {t} WHERE id = 7 ORDER BY src_table") == [(7,), (14,), (21,)]
    assert pair.target.sql(f"SELECT count(*) FROM {t} WHERE id = 500") == [(0,)]  # deleted by (id, src_table)
    reports = compare_tables(pair.source.config, pair.target.config, list(spec.tables), OPTIONS, mapper=mapper)
    assert [r.differences for r in reports] == [[], [], []]


def test_shards_merged_without_a_shard_column_are_refused(mysql_to_mysql: Pair) -> None:
    pair = mysql_to_mysql
    load_shards(pair)
    pair.target.sql(ORDERS.format(table=pair.target.qualified("orders")))
    spec = TaskSpec.from_json({
        "name": "compare-shards", "source": pair.source.config.to_dict(with_password=True),
        "target": pair.target.config.to_dict(with_password=True), "mode": "full",
        "tables": [{"source": str(pair.source.table(s)), "target": str(pair.target.table(s))} for s in SHARDS],
        "mapping": {"routes": [{"source": rf"{pair.source.database}\.orders_\d",
                                "target": str(pair.target.table("orders"))}]}})
    with pytest.raises(ConnectorError, match="without a shard column") as refused:
        compare_tables(pair.source.config, pair.target.config, list(spec.tables), OPTIONS, mapper=task_mapper(spec))
    assert "shard_column" in refused.value.hint
