"""Routing end to end: sharded tables merged into one target table, names and naming conventions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors.base import CheckStatus
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.registry import source_for
from connectors.spec import TaskSpec
from connectors.transform.shards import shard_key_conflicts
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import (
    PgTarget,
    Recorder,
    Run,
    Target,
    Writer,
    binlog_head,
    fill,
    source_rows,
    spec_json,
)

SHARDS = ["orders_1", "orders_2", "orders_3"]


def merged_source(src: Sql) -> list[tuple[Any, ...]]:
    rows = [(f"{src.database}.{shard}", *row) for shard in SHARDS for row in source_rows(src, shard, "id, v, n")]
    return sorted(rows)


def test_three_shards_merge_into_one_table_while_every_shard_is_written(
        src: Sql, target: Target, mariadb: MariaDBServer, runs: Callable[..., Run]) -> None:
    for number, shard in enumerate(SHARDS):
        fill(src, shard, 1500, start=1 + number * 500)  # keys overlap between shards
    data = spec_json(mariadb, src.database, target, SHARDS, "full+incremental", chunk_size=150, parallelism=2)
    data["mapping"] = {"routes": [{"source": rf"{src.database}\.orders_\d+", "target": str(target.table("orders")),
                                   "shard_column": "src_table", "shard_column_in_key": True}]}
    spec = TaskSpec.from_json(data)
    assert {str(m.target) for m in spec.tables} == {str(target.table("orders"))}
    writers = [Writer(mariadb, src.database, shard, keys=2500, seed=number, pause=0.002)
               for number, shard in enumerate(SHARDS)]
    for writer in writers:
        writer.start()
    observer = Recorder()
    try:
        run = runs(spec, MemoryCheckpointStore(), observer)
        run.wait_streaming()
        time.sleep(0.5)  # the writers go on while the stream runs too
    finally:
        counts = [writer.finish() for writer in writers]
    snapshot_start, stream_start = observer.phase_times["snapshot"], observer.phase_times["stream"]
    for writer in writers:
        assert writer.between(snapshot_start, stream_start) > 0, "every shard was written during the snapshot"
    run.wait_caught_up(binlog_head(mariadb))

    assert target.columns("orders") == ["id", "v", "n", "src_table"]
    assert target.primary_key("orders") == ["id", "src_table"]
    expected = merged_source(src)
    actual = sorted(target.rows("orders", "src_table, id, v, n", "src_table, id"))
    missing = [row for row in expected if row not in actual]
    extra = [row for row in actual if row not in expected]
    assert actual == expected, f"{len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}"
    assert len({row[0] for row in actual}) == 3 and min(counts) > 0
    run.finish()


def test_shards_without_the_shard_column_in_the_key(src: Sql, pg_target: PgTarget, mariadb: MariaDBServer,
                                                    runs: Callable[..., Run]) -> None:
    """Disjoint keys: the target keeps the source key; a row moved between shards ends where it was last put."""
    for number, shard in enumerate(SHARDS):
        fill(src, shard, 100, start=1 + number * 1000)
    data = spec_json(mariadb, src.database, pg_target, SHARDS, "full+incremental")
    data["mapping"] = {"routes": [{"source": r".*\.orders_[0-9]+", "target": f"{pg_target.schema}.orders",
                                   "shard_column": "shard"}]}
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), Recorder())
    run.wait_streaming()
    src("UPDATE orders_2 SET v = 'changed' WHERE id = 1001")
    src("DELETE FROM orders_3 WHERE id = 2001")
    src("INSERT INTO orders_1 VALUES (500, 'new', 5)")
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.primary_key("orders") == ["id"]
    rows = pg_target.rows("orders", "id, v, n, shard")
    assert len(rows) == 300
    by_id = {row[0]: row for row in rows}
    assert by_id[1001] == (1001, "changed", 1001 % 97, f"{src.database}.orders_2")
    assert 2001 not in by_id and by_id[500] == (500, "new", 5, f"{src.database}.orders_1")
    run.finish()


def test_renames_and_naming_conventions(src: Sql, pg_target: PgTarget, mariadb: MariaDBServer,
                                        runs: Callable[..., Run]) -> None:
    src("CREATE TABLE Customers (ID INT PRIMARY KEY, FullName VARCHAR(32), Extra INT)")
    src("CREATE TABLE Notes (id INT PRIMARY KEY, body VARCHAR(32))")
    src("INSERT INTO Customers VALUES (1, 'Ann', 7)")
    src("INSERT INTO Notes VALUES (1, 'hello')")
    data = spec_json(mariadb, src.database, pg_target, [], "full+incremental")
    database = src.database
    data["tables"] = [f"{database}.Customers", f"{database}.Notes"]
    data["mapping"] = {
        "naming": {"case": "lower", "prefix": "ods_", "suffix": "_v1"},
        "tables": {f"{database}.Customers": {"columns": {"include": ["ID", "FullName"],
                                                         "rename": {"FullName": "Name"}}},
                   f"{database}.Notes": {"target": f"{pg_target.schema}.memo"}}}
    spec = TaskSpec.from_json(data)
    assert [str(m.target) for m in spec.tables] == [f"{database.lower()}.ods_customers_v1",
                                                     f"{pg_target.schema}.memo"]
    run = runs(spec, MemoryCheckpointStore(), Recorder())
    run.wait_streaming()
    src("UPDATE Customers SET FullName = 'Annie', Extra = 8 WHERE ID = 1")
    src("INSERT INTO Notes VALUES (2, 'world')")
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.columns("ods_customers_v1") == ["id", "name"]
    assert pg_target.rows("ods_customers_v1") == [(1, "Annie")]
    assert pg_target.rows("memo") == [(1, "hello"), (2, "world")]
    run.finish()


def test_the_precheck_reports_keys_held_by_two_shards(src: Sql, pg_target: PgTarget, mariadb: MariaDBServer) -> None:
    fill(src, "orders_1", 50)
    fill(src, "orders_2", 50, start=40)  # keys 40..50 are in both
    fill(src, "orders_3", 10, start=1000)

    def check(**route: Any) -> Any:
        data = spec_json(mariadb, src.database, pg_target, SHARDS, "full+incremental")
        data["mapping"] = {"routes": [{"source": rf"{src.database}\.orders_\d", "target": "x.orders", **route}]}
        (item,) = shard_key_conflicts(TaskSpec.from_json(data), source_for)
        return item

    conflict = check()
    assert conflict.status == CheckStatus.FAILED and conflict.name == "mapping.shard_keys.x.orders"
    assert conflict.detail.startswith("11 key(s) of the sampled rows are in more than one shard: (40) in "
                                      f"{src.database}.orders_1, {src.database}.orders_2")
    assert "shard_column_in_key" in conflict.hint
    assert check(shard_column="s", shard_column_in_key=True).status == CheckStatus.PASSED
    src("DELETE FROM orders_2 WHERE id <= 50")
    assert check().status == CheckStatus.PASSED
