"""Task modes end to end through TaskRunner: schema, full, incremental (from now or from a given position),
full+incremental under concurrent writes, and stop/resume with the same checkpoint store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors.mysql.position import BinlogPosition
from connectors.pipeline.checkpoint import FileCheckpointStore, MemoryCheckpointStore
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import (
    PgTarget,
    Recorder,
    Run,
    Target,
    Writer,
    assert_same_rows,
    binlog_head,
    fill,
    run_to_end,
    source_rows,
)


def assert_no_duplicates(target: Target, table: str) -> None:
    total, distinct = target.query(f"SELECT count(*), count(DISTINCT id) FROM {target.qualified(table)}")[0]
    assert total == distinct, f"{total - distinct} duplicate keys at the target"


def test_schema_mode_creates_tables_with_keys_and_copies_no_rows(src: Sql, target: Target, make_spec: Any) -> None:
    src("CREATE TABLE orders (id BIGINT UNSIGNED NOT NULL, line INT NOT NULL, code VARCHAR(20) NOT NULL, "
        "note TEXT, PRIMARY KEY (id, line), UNIQUE KEY uk_code (code))")
    src("INSERT INTO orders VALUES (1, 1, 'a', 'x'), (1, 2, 'b', NULL), (2, 1, 'c', 'y')")
    store = MemoryCheckpointStore()
    outcome, run = run_to_end(make_spec(target, ["orders"], "schema"), store)
    assert outcome == "completed" and store.state is not None and store.state["phase"] == "completed"
    assert target.exists("orders")
    assert target.columns("orders") == ["id", "line", "code", "note"]
    assert target.primary_key("orders") == ["id", "line"]
    assert target.unique_keys("orders") == [["code"]]
    assert target.count("orders") == 0
    assert "snapshot" not in run.observer.phases and "stream" not in run.observer.phases


def test_full_mode_copies_every_row_and_completes(src: Sql, target: Target, make_spec: Any) -> None:
    fill(src, "items", 2500)
    src("DELETE FROM items WHERE id % 7 = 0")  # gaps between keys
    spec = make_spec(target, ["items"], "full", chunk_size=300, parallelism=2)
    store = MemoryCheckpointStore()
    outcome, _ = run_to_end(spec, store)
    assert outcome == "completed"
    state = store.state
    assert state is not None and state["phase"] == "completed"
    progress = state["snapshot"][f"{src.database}.items"]
    assert progress["finished"] and sorted(progress["done"]) == list(range(len(progress["chunks"])))
    assert len(progress["chunks"]) > 1 and progress["rows"] == 2500 - 2500 // 7
    rows = assert_same_rows(src, target, "items")
    assert len(rows) == 2500 - 2500 // 7
    # A completed task run again does nothing (and copies nothing twice).
    src("INSERT INTO items VALUES (100000, 'late', 0)")
    assert run_to_end(spec, store)[0] == "completed"
    assert target.count("items") == len(rows)


def test_incremental_without_a_start_position_streams_only_later_changes(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    fill(src, "items", 10)
    run = runs(make_spec(pg_target, ["items"], "incremental"))
    run.wait_streaming()
    assert pg_target.exists("items") and pg_target.count("items") == 0  # schema created, nothing copied
    fill(src, "items", 5, start=11)
    src("UPDATE items SET v = 'changed' WHERE id = 1")
    src("DELETE FROM items WHERE id IN (2, 12)")
    run.wait_caught_up(binlog_head(mariadb))
    # Only rows changed after the start: 11..15 inserted (12 deleted again), 1 updated; 3..10 never copied.
    assert pg_target.rows("items") == [(1, "changed", 1)] + [(i, f"row {i}", i % 97) for i in (11, 13, 14, 15)]
    assert run.finish() == "stopped"


def test_incremental_from_a_given_start_position_replays_exactly_from_there(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    fill(src, "items", 3)
    src("UPDATE items SET n = 500 WHERE id = 2")  # before the position: never replayed
    position = binlog_head(mariadb).to_json()  # as a user would copy it from an earlier task's state
    src("INSERT INTO items VALUES (4, 'four', 4), (5, 'five', 5)")
    src("UPDATE items SET v = 'one' WHERE id = 1")
    src("DELETE FROM items WHERE id = 5")
    src("INSERT INTO items VALUES (6, 'six', 6)")
    run = runs(make_spec(pg_target, ["items"], "incremental", start_position=position))
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.rows("items") == [(1, "one", 1), (4, "four", 4), (6, "six", 6)]
    src("INSERT INTO items VALUES (7, 'seven', 7)")  # and it goes on streaming
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.rows("items")[-1] == (7, "seven", 7)
    assert run.finish() == "stopped"
    assert BinlogPosition.from_json(position) < BinlogPosition.from_json(run.state()["position"])


def test_full_then_incremental_with_concurrent_writes_ends_equal(
        src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    fill(src, "items", 3000)
    writer = Writer(mariadb, src.database, "items", keys=4000, seed=11)
    writer.start()
    time.sleep(0.2)
    recorder = Recorder()
    run = runs(make_spec(target, ["items"], "full+incremental", chunk_size=200, parallelism=2), observer=recorder)
    run.wait_streaming()
    time.sleep(1.0)  # keep writing while streaming
    writer.finish()
    snapshot_writes = writer.between(recorder.phase_times["snapshot"], recorder.phase_times["stream"])
    assert snapshot_writes > 0, "no source write happened during the snapshot"
    run.wait_caught_up(binlog_head(mariadb))
    assert_same_rows(src, target, "items")
    assert_no_duplicates(target, "items")
    assert run.finish() == "stopped"


def test_stopped_during_the_snapshot_resumes_with_the_chunks_left(
        src: Sql, pg_target: PgTarget, make_spec: Any, mariadb: MariaDBServer) -> None:
    fill(src, "items", 4000)
    spec = make_spec(pg_target, ["items"], "full+incremental", chunk_size=250, parallelism=2, rate_limit_rows=1500)
    store = MemoryCheckpointStore()
    table = f"{src.database}.items"
    writer = Writer(mariadb, src.database, "items", keys=5000, seed=5, pause=0.002)
    writer.start()
    first = Run(spec, store).start()
    first.wait(lambda: len(first.state().get("snapshot", {}).get(table, {}).get("done", [])) >= 6, "six chunks")
    assert first.finish() == "stopped"
    progress = store.load()["snapshot"][table]  # type: ignore[index]
    done_before = set(progress["done"])
    assert not progress["finished"] and 6 <= len(done_before) < len(progress["chunks"])
    chunks_before = progress["chunks"]
    time.sleep(0.3)  # the source changes while the task is down

    second = Run(spec, store).start()
    second.wait_streaming()
    progress = store.load()["snapshot"][table]  # type: ignore[index]
    assert progress["chunks"] == chunks_before  # the same chunk bounds, not recomputed
    assert sorted(progress["done"]) == list(range(len(chunks_before)))
    assert len(progress["done"]) == len(set(progress["done"])), "a finished chunk was loaded again"
    writer.finish()
    second.wait_caught_up(binlog_head(mariadb))
    assert_same_rows(src, pg_target, "items")
    assert_no_duplicates(pg_target, "items")
    assert second.finish() == "stopped"


def test_stopped_while_streaming_resumes_without_loss_or_duplicates(
        src: Sql, target: Target, make_spec: Any, mariadb: MariaDBServer, tmp_path: Any) -> None:
    fill(src, "items", 500)
    spec = make_spec(target, ["items"], "full+incremental", batch_size=50)
    store = FileCheckpointStore(tmp_path / "state.json")
    writer = Writer(mariadb, src.database, "items", keys=800, seed=3, pause=0.001)
    writer.start()
    first = Run(spec, store).start()
    first.wait_streaming()
    first.wait(lambda: first.observer.applied_events > 100, "a hundred applied events")
    assert first.finish() == "stopped"
    stopped_at = BinlogPosition.from_json(store.load()["position"])  # type: ignore[index]
    time.sleep(0.5)  # changes while the task is down
    assert stopped_at < binlog_head(mariadb)

    second = Run(spec, store).start()
    time.sleep(0.5)
    writer.finish()
    second.wait_caught_up(binlog_head(mariadb))
    assert "snapshot" not in second.observer.phases  # the snapshot is not done again
    rows = assert_same_rows(src, target, "items")
    assert_no_duplicates(target, "items")
    assert len(rows) == len(source_rows(src, "items"))
    assert second.finish() == "stopped"


def test_the_heartbeat_option_reaches_the_source(pg_target: PgTarget, make_spec: Any) -> None:
    spec = make_spec(pg_target, ["items"], "incremental", heartbeat_seconds=0.25)
    source = Run(spec).runner.new_source()
    try:
        # The MySQL source reads heartbeat_interval: the seconds between heartbeats of an idle stream, which
        # bound how soon a partial batch is flushed and a stop request is seen.
        assert source.config.options["heartbeat_interval"] == 0.25
    finally:
        source.close()
