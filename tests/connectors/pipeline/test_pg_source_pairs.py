"""Whole tasks with a PostgreSQL source, through TaskRunner: PostgreSQL -> PostgreSQL and PostgreSQL -> MySQL.

Full+incremental with writes running through the snapshot, ending with target = source; resume
from a checkpoint applying each later change once; key updates and deletes; schema drift (a
column added and dropped at the source) under each ddl_policy; the slot's retained WAL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.stream import DdlRefused
from connectors.postgresql.position import Lsn
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer, PostgresServer
from tests.connectors.pipeline.conftest import MySQLTarget, PgTarget, Recorder, Run, Target
from tests.connectors.postgresql.conftest import PgSql, drop_slots

CAUGHT_UP_TIMEOUT = 60.0


# Source, targets and specs -----------------------------------------------------------------------------

@pytest.fixture
def pg_source_db(postgres: PostgresServer, pg_db: str) -> Iterator[PgSql]:
    sql = PgSql(postgres, pg_db)
    yield sql
    sql.close()
    drop_slots(postgres, pg_db)


@pytest.fixture
def pg_to_pg(postgres: PostgresServer, pg_db: str) -> Iterator[PgTarget]:
    """A second database on the same server; tables keep their schema (public) and names."""
    name = f"{pg_db}_dst"
    admin = postgres.connect()
    admin.execute(f'CREATE DATABASE "{name}"')
    target = PgTarget(postgres, name, "public")
    yield target
    target.close()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def pg_to_mysql(mariadb: MariaDBServer, mysql_db: str) -> Iterator[MySQLTarget]:
    target = MySQLTarget(mariadb, mysql_db)
    yield target
    target.close()


@pytest.fixture(params=["postgresql", "mysql"])
def any_target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue("pg_to_pg" if request.param == "postgresql" else "pg_to_mysql")  # type: ignore[no-any-return]


_slots = iter(range(1, 10**6))


@pytest.fixture
def pg_spec(postgres: PostgresServer, pg_db: str) -> Callable[..., TaskSpec]:
    """pg_spec(target, ["t"], "full+incremental", **options): a TaskSpec reading public.<t> from the source."""
    slot = f"dts_pairs_{next(_slots)}_{int(time.time()) % 100000}"

    def make(target: Target, tables: list[str], mode: str, **options: Any) -> TaskSpec:
        values: dict[str, Any] = {"heartbeat_seconds": 0.3, "flush_interval": 0.2}
        values.update(options)
        source = {"engine": "postgresql", "host": postgres.host, "port": postgres.port, "user": postgres.user,
                  "password": postgres.password, "database": pg_db, "connect_timeout": 3.0,
                  "options": {"slot_name": slot}}
        return TaskSpec.from_json({
            "name": "pg-pairs", "source": source, "target": dict(target.config_json), "mode": mode,
            "tables": [{"source": f"public.{name}", "target": str(target.table(name))} for name in tables],
            "options": values})
    return make


def wal_head(sql: PgSql) -> Lsn:
    """Where the next WAL record goes: past every commit made so far (the write position may lag behind)."""
    return Lsn.parse(sql("SELECT pg_current_wal_insert_lsn()::text")[0][0])


def saved(run: Run) -> Lsn | None:
    position = run.state().get("position")
    return Lsn.from_json(position) if position else None


def wait_caught_up(run: Run, sql: PgSql, timeout: float = CAUGHT_UP_TIMEOUT) -> None:
    """Until the checkpoint (saved only after the target committed) has reached the WAL head of now."""
    head = wal_head(sql)

    def reached() -> bool:
        position = saved(run)
        return position is not None and not position < head
    run.wait(reached, f"the checkpoint to reach {head}", timeout)


def assert_same(sql: PgSql, target: Target, table: str, columns: str = "id, v, n") -> list[tuple[Any, ...]]:
    expected = [tuple(r) for r in sql(f"SELECT {columns} FROM public.{table} ORDER BY id")]
    actual = target.rows(table, columns)
    assert actual == expected, (f"{table}: {len(expected)} rows at the source, {len(actual)} at the target; "
                                f"missing {[r for r in expected if r not in actual][:5]}, "
                                f"extra {[r for r in actual if r not in expected][:5]}")
    return actual


def fill(sql: PgSql, table: str, count: int) -> None:
    sql(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v varchar(64), n int)")
    sql(f"INSERT INTO public.{table} SELECT g, 'row ' || g, g % 97 FROM generate_series(1, {count}) g")
    sql(f"ANALYZE public.{table}")


class PgWriter(threading.Thread):
    """Random inserts, updates, deletes and key updates; every tenth operation is a 5-statement transaction."""

    def __init__(self, server: PostgresServer, database: str, table: str, *, keys: int, seed: int = 1) -> None:
        super().__init__(name="pg-writer", daemon=True)
        self.conn = server.connect(database)
        self.table = table
        self.keys = keys
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.times: list[float] = []
        self.error: BaseException | None = None

    def _one(self) -> None:
        rng, table, conn = self.rng, self.table, self.conn
        choice = rng.random()
        key = rng.randrange(1, self.keys)
        if choice < 0.3:
            conn.execute(f"INSERT INTO public.{table} VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET v = "
                         "excluded.v", [key, f"ins {key} {rng.random():.6f}", rng.randrange(1000)])
        elif choice < 0.6:
            conn.execute(f"UPDATE public.{table} SET v = %s, n = n + 1 WHERE id = %s", [f"upd {rng.random():.6f}", key])
        elif choice < 0.75:
            conn.execute(f"DELETE FROM public.{table} WHERE id = %s", [key])
        else:  # a key change, unless the new key is taken
            new = rng.randrange(1, self.keys)
            conn.execute(f"UPDATE public.{table} SET id = %s WHERE id = %s AND NOT EXISTS "
                         f"(SELECT 1 FROM public.{table} WHERE id = %s)", [new, key, new])

    def run(self) -> None:
        try:
            count = 0
            while not self.halt.is_set():
                count += 1
                if count % 10 == 0:
                    with self.conn.transaction():
                        for _ in range(5):
                            self._one()
                else:
                    self._one()
                self.times.append(time.monotonic())
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def finish(self) -> int:
        self.halt.set()
        self.join(30)
        self.conn.close()
        if self.error is not None:
            raise self.error
        return len(self.times)


# Tests -------------------------------------------------------------------------------------------------

def test_full_incremental_with_writes_during_snapshot(pg_source_db: PgSql, any_target: Target,
                                                       pg_spec: Callable[..., TaskSpec], postgres: PostgresServer,
                                                       pg_db: str, runs: Callable[..., Run]) -> None:
    fill(pg_source_db, "t", 20000)
    writer = PgWriter(postgres, pg_db, "t", keys=25000)
    writer.start()
    recorder = Recorder()
    run = runs(pg_spec(any_target, ["t"], "full+incremental", chunk_size=2000, parallelism=2), observer=recorder)
    try:
        run.wait(lambda: "stream" in recorder.phases, "the stream phase", 120)
        snapshot_writes = [t for t in writer.times if t <= recorder.phase_times["stream"]]
        time.sleep(1.0)
    finally:
        total = writer.finish()
    assert snapshot_writes and total > len(snapshot_writes)  # writes ran during the snapshot and after it
    wait_caught_up(run, pg_source_db)
    rows = assert_same(pg_source_db, any_target, "t")
    assert len(rows) > 15000
    assert run.finish() == "stopped"


def test_resume_applies_each_later_change_once(pg_source_db: PgSql, any_target: Target,
                                               pg_spec: Callable[..., TaskSpec], runs: Callable[..., Run]) -> None:
    fill(pg_source_db, "t", 100)
    spec = pg_spec(any_target, ["t"], "full+incremental")
    store = MemoryCheckpointStore()
    first = runs(spec, store)
    first.wait_streaming()
    pg_source_db("UPDATE public.t SET v = 'first run' WHERE id <= 10")
    wait_caught_up(first, pg_source_db)
    assert first.finish() == "stopped"
    # While stopped: 7 single-row changes, one of them a key change, one a delete.
    pg_source_db("INSERT INTO public.t VALUES (1001, 'new', 1), (1002, 'new', 2)")
    pg_source_db("UPDATE public.t SET v = 'later' WHERE id IN (11, 12)")
    pg_source_db("UPDATE public.t SET id = 2001 WHERE id = 13")
    pg_source_db("DELETE FROM public.t WHERE id IN (14, 15)")
    recorder = Recorder()
    second = runs(spec, store, recorder)
    wait_caught_up(second, pg_source_db)
    assert_same(pg_source_db, any_target, "t")
    assert recorder.applied_events == 7  # the first run's ten updates were not replayed
    assert second.finish() == "stopped"


def test_key_update_and_delete(pg_source_db: PgSql, any_target: Target, pg_spec: Callable[..., TaskSpec],
                               runs: Callable[..., Run]) -> None:
    pg_source_db("CREATE TABLE public.k (a int, b varchar(20), v text, PRIMARY KEY (a, b))")
    pg_source_db("INSERT INTO public.k VALUES (1, 'x', 'one'), (2, 'y', 'two'), (3, 'z', 'three')")
    run = runs(pg_spec(any_target, ["k"], "full+incremental"))
    run.wait_streaming()
    pg_source_db("UPDATE public.k SET b = 'moved', v = 'one again' WHERE a = 1")
    pg_source_db("UPDATE public.k SET a = 3, b = 'zz' WHERE a = 2")  # next to (3, 'z'), which it must not touch
    pg_source_db("DELETE FROM public.k WHERE a = 3 AND b = 'z'")
    wait_caught_up(run, pg_source_db)
    expected = [(1, "moved", "one again"), (3, "zz", "two")]
    assert [tuple(r) for r in pg_source_db("SELECT a, b, v FROM public.k ORDER BY a, b")] == expected
    assert any_target.rows("k", "a, b, v", "a, b") == expected
    assert run.finish() == "stopped"


@pytest.mark.parametrize("policy", ["apply", "ignore", "fail"])
def test_schema_drift_follows_the_ddl_policy(pg_source_db: PgSql, any_target: Target,
                                             pg_spec: Callable[..., TaskSpec], policy: str,
                                             runs: Callable[..., Run]) -> None:
    fill(pg_source_db, "t", 50)
    run = runs(pg_spec(any_target, ["t"], "full+incremental", ddl_policy=policy))
    run.wait_streaming()
    pg_source_db("ALTER TABLE public.t ADD COLUMN extra int DEFAULT 7")
    pg_source_db("INSERT INTO public.t VALUES (500, 'after add', 1, 70)")
    if policy == "fail":
        error = run.failure()
        assert isinstance(error, DdlRefused) and 'ADD COLUMN "extra"' in str(error)
        assert any_target.columns("t") == ["id", "v", "n"]
        return
    pg_source_db("UPDATE public.t SET extra = 8 WHERE id = 1")
    pg_source_db("ALTER TABLE public.t DROP COLUMN n")
    pg_source_db("INSERT INTO public.t VALUES (501, 'after drop', 71)")
    wait_caught_up(run, pg_source_db)
    if policy == "apply":
        assert any_target.columns("t") == ["id", "v", "extra"]
        assert_same(pg_source_db, any_target, "t", "id, v, extra")
    else:  # the target keeps its shape: the added column is not copied, the dropped one no longer written
        assert any_target.columns("t") == ["id", "v", "n"]
        assert_same(pg_source_db, any_target, "t", "id, v")
        assert any_target.rows("t", "id, n")[-2:] == [(500, 1), (501, None)]
    assert run.finish() == "stopped"


def test_slot_releases_wal_once_the_target_committed(pg_source_db: PgSql, pg_to_pg: PgTarget,
                                                      pg_spec: Callable[..., TaskSpec],
                                                      runs: Callable[..., Run]) -> None:
    fill(pg_source_db, "t", 10)
    run = runs(pg_spec(pg_to_pg, ["t"], "full+incremental"))
    run.wait_streaming()
    pg_source_db("UPDATE public.t SET v = repeat('x', 60) FROM generate_series(1, 300)")
    for _ in range(3):
        pg_source_db("INSERT INTO public.t SELECT g, repeat('y', 60), 0 FROM generate_series(1000, 6000) g "
                     "ON CONFLICT (id) DO UPDATE SET n = public.t.n + 1")
    wait_caught_up(run, pg_source_db)
    checkpoint = saved(run)
    assert checkpoint is not None
    slot = run.runner.spec.source.options["slot_name"]

    def confirmed() -> bool:
        row = pg_source_db("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", [slot])
        return bool(row) and not Lsn.parse(row[0][0]) < checkpoint
    run.wait(confirmed, "the slot to confirm the checkpoint", 30)
    assert run.finish() == "stopped"


def test_a_table_added_to_a_streaming_task_joins(pg_source_db: PgSql, any_target: Target,
                                                 pg_spec: Callable[..., TaskSpec], postgres: PostgresServer,
                                                 pg_db: str, runs: Callable[..., Run]) -> None:
    fill(pg_source_db, "t", 2000)
    fill(pg_source_db, "u", 5000)
    store = MemoryCheckpointStore()
    first = runs(pg_spec(any_target, ["t"], "full+incremental"), store)
    first.wait_streaming()
    assert first.finish() == "stopped"
    writers = [PgWriter(postgres, pg_db, name, keys=6000, seed=seed) for name, seed in (("t", 3), ("u", 4))]
    for writer in writers:
        writer.start()
    recorder = Recorder()
    second = runs(pg_spec(any_target, ["t", "u"], "full+incremental", chunk_size=500), store, recorder)
    try:
        second.wait(lambda: any("joined" in message for _, message in recorder.logs), "the join", 120)
        time.sleep(0.5)
    finally:
        for writer in writers:
            writer.finish()
    wait_caught_up(second, pg_source_db)
    assert_same(pg_source_db, any_target, "t")
    assert_same(pg_source_db, any_target, "u")
    assert second.finish() == "stopped"


def test_every_type_arrives_the_same_by_snapshot_and_by_stream(pg_source_db: PgSql, any_target: Target,
                                                               pg_spec: Callable[..., TaskSpec],
                                                               runs: Callable[..., Run]) -> None:
    from tests.connectors.postgresql.test_source import TYPES_ROW, TYPES_TABLE

    pg_source_db(TYPES_TABLE)
    pg_source_db(TYPES_ROW)  # id 1: copied by the snapshot
    run = runs(pg_spec(any_target, ["types"], "full+incremental"))
    run.wait_streaming()
    pg_source_db(TYPES_ROW.replace("VALUES (1,", "VALUES (2,"))  # the same values again: through the stream
    pg_source_db("INSERT INTO public.types (id) VALUES (3)")  # and every column NULL
    wait_caught_up(run, pg_source_db)
    rows = any_target.rows("types")
    assert [row[0] for row in rows] == [1, 2, 3]
    assert rows[0][1:] == rows[1][1:]  # snapshot and stream gave the target identical values
    assert rows[2][1:] == (None,) * (len(rows[2]) - 1)
    assert rows[0][2] == 9007199254740993 and rows[0][9] == "héllo" and rows[0][12] == b"\x00\xff"
    assert run.finish() == "stopped"
