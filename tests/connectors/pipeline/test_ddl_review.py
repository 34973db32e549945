"""ddl_policy 'review': the changed table pauses, the others stream on, an operator's decision resumes it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.review import MemoryDdlInbox
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import PgTarget, Recorder, Run, Target, binlog_head, spec_json


@pytest.fixture
def review_runs() -> Iterator[Callable[..., Run]]:
    """review_runs(spec, inbox, store=None): a started Run whose runner asks `inbox`; stopped afterwards."""
    started: list[Run] = []

    def start(spec: TaskSpec, inbox: MemoryDdlInbox, store: Any = None) -> Run:
        run = Run(spec, store if store is not None else MemoryCheckpointStore(), Recorder())
        run.runner = TaskRunner(spec, run.store, run.observer, run.stop_event, ddl_inbox=inbox)
        started.append(run.start())
        return run

    yield start
    for run in started:
        run.stop_event.set()
    for run in started:
        run.thread.join(60)


def make(mariadb: MariaDBServer, src: Sql, target: Target) -> TaskSpec:
    src("CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(16))")
    src("CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(16))")
    src("INSERT INTO a VALUES (1, 'a1')")
    src("INSERT INTO b VALUES (1, 'b1')")
    return TaskSpec.from_json(spec_json(mariadb, src.database, target, ["a", "b"], "full+incremental",
                                        ddl_policy="review"))


def wait_pending(run: Run, inbox: MemoryDdlInbox) -> dict[str, Any]:
    items = run.wait(inbox.pending, "a DDL in the inbox")
    assert len(items) == 1
    return items[0]


def test_a_reviewed_ddl_is_approved_while_other_tables_keep_flowing(src: Sql, target: Target,
                                                                    mariadb: MariaDBServer,
                                                                    review_runs: Callable[..., Run]) -> None:
    inbox = MemoryDdlInbox()
    run = review_runs(make(mariadb, src, target), inbox)
    run.wait_streaming()
    src("ALTER TABLE a ADD COLUMN c INT")
    src("INSERT INTO a VALUES (2, 'a2', 20)")
    src("UPDATE a SET v = 'a1x', c = 10 WHERE id = 1")
    item = wait_pending(run, inbox)
    assert item["table"] == f"{src.database}.a" and "ADD COLUMN c INT" in item["ddl"]
    quoted = target.quote("c")
    assert "ADD COLUMN" in item["statement"].upper() and quoted in item["statement"], item["statement"]
    for n in range(2, 6):  # b keeps flowing while a waits
        src(f"INSERT INTO b VALUES ({n}, 'b{n}')")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.count("b") == 5
    assert target.columns("a") == ["id", "v"] and target.rows("a") == [(1, "a1")], "a is paused"
    assert run.state()["review"][f"{src.database}.a"]["ddl"] == item["ddl"]

    inbox.decide(f"{src.database}.a", "apply")
    run.wait(lambda: target.columns("a") == ["id", "v", "c"] and target.count("a") == 2, "a to resume")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.rows("a") == [(1, "a1x", 10), (2, "a2", 20)]
    assert [i["status"] for i in inbox.items.values()] == ["applied"]
    assert "review" not in run.state() or not run.state()["review"]
    src("INSERT INTO b VALUES (6, 'b6')")
    src("INSERT INTO a VALUES (3, 'a3', 30)")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.count("b") == 6 and target.rows("a")[-1] == (3, "a3", 30)
    run.finish()


def test_an_edited_statement_is_run_and_an_ignored_ddl_keeps_the_target_shape(
        src: Sql, pg_target: PgTarget, mariadb: MariaDBServer, review_runs: Callable[..., Run]) -> None:
    inbox = MemoryDdlInbox()
    run = review_runs(make(mariadb, src, pg_target), inbox)
    run.wait_streaming()
    src("ALTER TABLE a ADD COLUMN c INT")
    src("INSERT INTO a VALUES (2, 'a2', 20)")
    wait_pending(run, inbox)
    edited = f'ALTER TABLE "{pg_target.schema}"."a" ADD COLUMN "c" bigint DEFAULT 0'
    inbox.decide(f"{src.database}.a", "apply", edited)
    run.wait(lambda: pg_target.count("a") == 2, "a to resume")
    assert pg_target.column_types("a")["c"] == "bigint", "the operator's statement ran, not the translated one"

    src("ALTER TABLE b ADD COLUMN d INT")
    src("INSERT INTO b VALUES (2, 'b2', 7)")
    wait_pending(run, inbox)
    inbox.decide(f"{src.database}.b", "ignore")
    run.wait(lambda: pg_target.count("b") == 2, "b to resume")
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.columns("b") == ["id", "v"] and pg_target.rows("b") == [(1, "b1"), (2, "b2")]
    assert sorted(i["status"] for i in inbox.items.values()) == ["applied", "ignored"]
    run.finish()


def test_a_paused_table_stays_paused_across_a_restart(src: Sql, pg_target: PgTarget, mariadb: MariaDBServer,
                                                      review_runs: Callable[..., Run]) -> None:
    inbox = MemoryDdlInbox()
    store = MemoryCheckpointStore()
    spec = make(mariadb, src, pg_target)
    run = review_runs(spec, inbox, store)
    run.wait_streaming()
    src("ALTER TABLE a ADD COLUMN c INT")
    src("INSERT INTO a VALUES (2, 'a2', 20)")
    wait_pending(run, inbox)
    run.wait_caught_up(binlog_head(mariadb))
    run.finish()

    again = review_runs(spec, inbox, store)
    src("INSERT INTO b VALUES (2, 'b2')")
    src("INSERT INTO a VALUES (3, 'a3', 30)")
    again.wait_caught_up(binlog_head(mariadb))
    time.sleep(0.5)
    assert pg_target.count("b") == 2 and pg_target.rows("a") == [(1, "a1")]
    assert len(inbox.items) == 1, "the same DDL is not asked twice"
    inbox.decide(f"{src.database}.a", "apply")
    again.wait(lambda: pg_target.count("a") == 3, "a to resume")
    assert pg_target.rows("a") == [(1, "a1", None), (2, "a2", 20), (3, "a3", 30)]
    again.finish()
