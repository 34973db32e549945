"""DDL on the source while a task streams, under each ddl_policy: apply, ignore, fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.stream import DdlRefused
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import PgTarget, Recorder, Run, Target, binlog_head


def start_streaming(src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], policy: str) -> Run:
    src("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), n INT)")
    src("INSERT INTO t VALUES (1, 'one', 1), (2, 'two', 2)")
    run = runs(make_spec(target, ["t"], "full+incremental", ddl_policy=policy))
    run.wait_streaming()
    return run


def test_apply_replays_each_ddl_on_the_target(src: Sql, target: Target, make_spec: Any,
                                              runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    run = start_streaming(src, target, make_spec, runs, "apply")

    def caught_up() -> None:
        run.wait_caught_up(binlog_head(mariadb))

    # ADD COLUMN: the rows already there take the column's default, as at the source (which logs no rows).
    src("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 7, ADD COLUMN s VARCHAR(10) DEFAULT 'dflt'")
    src("INSERT INTO t VALUES (3, 'three', 3, 30, 'x')")
    caught_up()
    assert target.columns("t") == ["id", "v", "n", "c", "s"]
    assert target.rows("t") == [(1, "one", 1, 7, "dflt"), (2, "two", 2, 7, "dflt"), (3, "three", 3, 30, "x")]

    src("ALTER TABLE t DROP COLUMN v")
    src("INSERT INTO t VALUES (4, 4, 40, NULL)")
    src("UPDATE t SET n = n + 100 WHERE id = 1")
    caught_up()
    assert target.columns("t") == ["id", "n", "c", "s"]
    assert target.rows("t") == [(1, 101, 7, "dflt"), (2, 2, 7, "dflt"), (3, 3, 30, "x"), (4, 4, 40, None)]

    src("ALTER TABLE t MODIFY COLUMN n BIGINT")
    src("INSERT INTO t VALUES (5, 1099511627776, 50, 'big')")
    caught_up()
    assert target.rows("t", "id, n", "id")[-1] == (5, 2**40)
    assert target.column_types("t")["n"] in ("bigint", "bigint(20)")

    src("ALTER TABLE t RENAME COLUMN c TO c_renamed")
    src("INSERT INTO t VALUES (6, 6, 60, NULL)")
    caught_up()
    assert target.columns("t") == ["id", "n", "c_renamed", "s"]
    assert target.rows("t", "id, c_renamed") == [(1, 7), (2, 7), (3, 30), (4, 40), (5, 50), (6, 60)]

    src("TRUNCATE TABLE t")
    src("INSERT INTO t VALUES (20, 20, 200, 'after')")
    caught_up()
    assert target.rows("t") == [(20, 20, 200, "after")]

    # RENAME TABLE: the target table follows under the new name (its rows kept); a new table of the
    # old name is then created and streamed like the first.
    src("RENAME TABLE t TO t_old")
    caught_up()
    assert not target.exists("t") and target.rows("t_old") == [(20, 20, 200, "after")]
    src("CREATE TABLE t (id INT PRIMARY KEY, w VARCHAR(5))")
    src("INSERT INTO t VALUES (1, 'new')")
    caught_up()
    assert target.columns("t") == ["id", "w"] and target.rows("t") == [(1, "new")]
    assert target.primary_key("t") == ["id"]

    src("DROP TABLE t")
    caught_up()
    assert not target.exists("t") and target.exists("t_old")
    src("CREATE TABLE t (id INT PRIMARY KEY, z INT)")  # and back again
    src("INSERT INTO t VALUES (9, 9)")
    caught_up()
    assert target.rows("t") == [(9, 9)]
    assert run.finish() == "stopped"


def test_ignore_leaves_the_target_alone_and_keeps_streaming(
        src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    run = start_streaming(src, target, make_spec, runs, "ignore")

    def caught_up() -> None:
        run.wait_caught_up(binlog_head(mariadb))

    # An added column stays at the source only: its values are not copied, the rest of the row is.
    src("ALTER TABLE t ADD COLUMN extra INT DEFAULT 5")
    src("INSERT INTO t VALUES (3, 'three', 3, 33)")
    src("UPDATE t SET v = 'uno', extra = 11 WHERE id = 1")
    caught_up()
    assert target.columns("t") == ["id", "v", "n"]
    assert target.rows("t") == [(1, "uno", 1), (2, "two", 2), (3, "three", 3)]

    # A dropped column stays at the target: new rows leave it NULL, updated rows keep their value.
    src("ALTER TABLE t DROP COLUMN n")
    src("INSERT INTO t VALUES (4, 'four', 44)")
    src("UPDATE t SET v = 'dos' WHERE id = 2")
    caught_up()
    assert target.columns("t") == ["id", "v", "n"]
    assert target.rows("t") == [(1, "uno", 1), (2, "dos", 2), (3, "three", 3), (4, "four", None)]

    # A renamed column is both: the new name is not copied, the old one no longer written.
    src("ALTER TABLE t RENAME COLUMN v TO label")
    src("INSERT INTO t VALUES (6, 'six', 66)")
    src("UPDATE t SET label = 'eins' WHERE id = 1")
    caught_up()
    assert target.columns("t") == ["id", "v", "n"]
    assert target.rows("t", "id, v", "id")[0] == (1, "uno") and target.rows("t")[-1] == (6, None, None)

    # TRUNCATE is not replayed: the target keeps its rows, later changes still land.
    src("TRUNCATE TABLE t")
    src("INSERT INTO t VALUES (5, 'five', 55)")
    caught_up()
    assert [r[0] for r in target.rows("t", "id")] == [1, 2, 3, 4, 5, 6]
    assert any(level == "warning" and "ignored DDL" in message and "TRUNCATE" in message
               for level, message in run.observer.logs)
    assert run.finish() == "stopped"


def test_fail_refuses_the_ddl_with_the_statement_and_keeps_the_checkpoint_before_it(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    run = start_streaming(src, pg_target, make_spec, runs, "fail")
    src("INSERT INTO t VALUES (3, 'three', 3)")
    before = binlog_head(mariadb)
    src("ALTER TABLE t ADD COLUMN extra INT")
    error = run.failure()
    assert isinstance(error, DdlRefused)
    assert "ALTER TABLE t ADD COLUMN extra INT" in str(error) and f"{src.database}.t" in str(error)
    assert "ddl_policy" in str(error)
    saved = run.position()
    assert saved is not None and not before < saved  # a resume meets the statement again
    assert pg_target.columns("t") == ["id", "v", "n"]
    assert [r[0] for r in pg_target.rows("t", "id")] == [1, 2, 3]  # the rows before it were applied


def test_a_stream_resumes_after_its_table_was_dropped_at_the_source(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    src("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
    src("INSERT INTO t VALUES (1, 'one')")
    spec = make_spec(pg_target, ["t"], "full+incremental")
    store = MemoryCheckpointStore()
    first = runs(spec, store)
    first.wait_streaming()
    src("DROP TABLE t")
    first.wait_caught_up(binlog_head(mariadb))
    assert not pg_target.exists("t")
    assert first.finish() == "stopped"
    # The task restarts (a new worker) while the table is gone: it streams on, and applies its return.
    second = runs(spec, store)
    time.sleep(0.5)
    src("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
    src("INSERT INTO t VALUES (2, 'two')")
    second.wait_caught_up(binlog_head(mariadb))
    assert pg_target.rows("t") == [(2, "two")]
    assert second.finish() == "stopped"


def test_an_online_schema_change_swap_copies_the_new_table_again(src: Sql, target: Target, make_spec: Any,
                                                                 mariadb: MariaDBServer) -> None:
    """gh-ost / pt-online-schema-change end with RENAME TABLE t TO t_old, t_new TO t: the task's table is
    now another table, whose rows were never streamed. It is copied again, then streams on."""
    src("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    src("INSERT INTO t VALUES (1, 1), (2, 2)")
    recorder = Recorder()
    run = Run(make_spec(target, ["t"], "full+incremental"), observer=recorder).start()
    run.wait_streaming()
    src("CREATE TABLE t_new (id INT PRIMARY KEY, v INT, extra INT)")
    src("INSERT INTO t_new SELECT id, v, 0 FROM t")
    src("INSERT INTO t_new VALUES (3, 3, 3)")  # written to the shadow table: never in the stream
    src("RENAME TABLE t TO t_old, t_new TO t")
    src("INSERT INTO t VALUES (4, 4, 4)")
    src("UPDATE t SET extra = 9 WHERE id = 1")
    run.wait_caught_up(binlog_head(mariadb))
    run.finish()
    assert target.rows("t", "id, v, extra") == [(1, 1, 9), (2, 2, 0), (3, 3, 3), (4, 4, 4)]
    assert any("was replaced by another table" in message for _, message in recorder.logs)
