"""Parallel sink writers (options.parallelism) under primary-key changes that move rows across partitions."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from connectors.base import Batch, TableBatch
from connectors.pipeline.partition import split, unique_safe
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import Run, Target, assert_same_rows, binlog_head


def key_changes(src: Sql, rng: random.Random, rounds: int) -> None:
    """Primary-key moves, key swaps through a temporary key, swaps of the unique code, inserts into freed keys.

    The unique code travels with its row when the key changes, so the old key's delete and the new
    key's insert (different partitions) touch the same unique value.
    """
    for round_ in range(rounds):
        ids = [row[0] for row in src("SELECT id FROM acct")]
        src("BEGIN")
        for _ in range(8):  # moves to a free key
            old = rng.choice(ids)
            new = rng.randrange(1, 5000)
            src("UPDATE IGNORE acct SET id = %s, v = v + 1 WHERE id = %s", (new, old))
        a, b = rng.sample(ids, 2)
        src("UPDATE IGNORE acct SET id = -1 WHERE id = %s", (a,))  # swap two keys through -1
        src("UPDATE IGNORE acct SET id = %s WHERE id = %s", (a, b))
        src("UPDATE IGNORE acct SET id = %s WHERE id = -1", (b,))
        src("COMMIT")
        (c, code_c), (d, code_d) = rng.sample(src("SELECT id, code FROM acct"), 2)
        src("BEGIN")  # swap two unique codes through a temporary one
        src("UPDATE acct SET code = 'swapping' WHERE id = %s", (c,))
        src("UPDATE acct SET code = %s WHERE id = %s", (code_c, d))
        src("UPDATE acct SET code = %s WHERE id = %s", (code_d, c))
        src("COMMIT")
        src("INSERT IGNORE INTO acct VALUES (%s, %s, 0)", (rng.randrange(1, 5000), f"new {round_}"))
        src("UPDATE acct SET id = id + 5000 WHERE id BETWEEN %s AND %s", (round_ * 10, round_ * 10 + 9))


def test_parallel_writers_with_key_changes_across_partitions(
        src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    src("CREATE TABLE acct (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, v INT, UNIQUE KEY uk_code (code))")
    src("INSERT INTO acct SELECT seq, CONCAT('code ', seq), 0 FROM seq_1_to_300")
    run = runs(make_spec(target, ["acct"], "full+incremental", parallelism=3, batch_size=200))
    run.wait_streaming()
    key_changes(src, random.Random(42), rounds=25)
    run.wait_caught_up(binlog_head(mariadb))
    assert_same_rows(src, target, "acct")
    assert target.unique_keys("acct") == [["code"]]
    assert run.finish() == "stopped"


def test_parallel_writers_with_key_changes_on_a_table_with_only_a_primary_key(
        src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    src("CREATE TABLE acct (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, v INT)")
    src("INSERT INTO acct SELECT seq, CONCAT('code ', seq), 0 FROM seq_1_to_300")
    run = runs(make_spec(target, ["acct"], "full+incremental", parallelism=3, batch_size=200))
    run.wait_streaming()
    key_changes(src, random.Random(7), rounds=25)
    run.wait_caught_up(binlog_head(mariadb))
    assert_same_rows(src, target, "acct")
    assert run.finish() == "stopped"


def test_a_table_with_another_unique_key_is_one_partition_and_deletes_before_it_upserts() -> None:
    columns = (ColumnSchema("id", CanonicalType(Kind.INT, bits=32), False),
               ColumnSchema("code", CanonicalType(Kind.STRING, length=20), False))
    plain = TableSchema(TableId("db", "plain"), columns, primary_key=("id",))
    coded = TableSchema(TableId("db", "coded"), columns, primary_key=("id",), unique_keys=(("code",),))
    batch = Batch()
    for schema in (plain, coded):
        batch.tables[schema.table] = TableBatch(schema, schema.table, {(k,): (k, f"c{k}") for k in range(50)},
                                                {(k,) for k in range(50, 60)})
    parts = split(unique_safe(batch), 3)
    assert sum(1 for part in parts if coded.table in part.tables) == 1
    assert sum(1 for part in parts if plain.table in part.tables) == 3
    (coded_part,) = [part.tables[coded.table] for part in parts if coded.table in part.tables]
    assert coded_part.deletes == {(k,) for k in range(60)} and len(coded_part.upserts) == 50
    plain_deletes = set().union(*(part.tables[plain.table].deletes for part in parts))
    assert plain_deletes == {(k,) for k in range(50, 60)}  # a key-only table gets no extra deletes
