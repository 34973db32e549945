"""Helpers for running whole tasks through TaskRunner: real MariaDB source, real PostgreSQL or MariaDB target.

- ``src`` runs SQL on a fresh source database; ``Target`` reads a target back (``pg_target``,
  ``mysql_target``, or ``target`` parametrised over both engines).
- ``make_spec`` builds a TaskSpec through TaskSpec.from_json (so the spec's validation runs too).
- ``Run`` runs a TaskRunner in a thread: wait for a phase, wait until the checkpoint has reached the
  source's binlog head ("caught up"), stop it, re-raise what it raised.
- ``assert_same_rows`` compares source and target row by row, after waiting until caught up once:
  the comparison itself is never retried, so a difference fails the test.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.mysql.position import BinlogPosition
from connectors.pipeline.checkpoint import CheckpointStore, MemoryCheckpointStore
from connectors.pipeline.observer import NullObserver
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from connectors.types import TableId
from dts.localservers import MariaDBServer, PostgresServer
from tests.connectors.mysql.conftest import Sql

# Replica ids of these tests' binlog streams: far from the MySQL source tests' range (1000..100000).
_server_ids = itertools.count(300_000)
CAUGHT_UP_TIMEOUT = 45.0


# Source -----------------------------------------------------------------------------------------------

@pytest.fixture
def src(mariadb: MariaDBServer, mysql_db: str) -> Iterator[Sql]:
    """Autocommit SQL on a fresh source database."""
    runner = Sql(mariadb, mysql_db)
    yield runner
    runner.close()


def binlog_head(server: MariaDBServer) -> BinlogPosition:
    """The source's binlog head now: every change made before this call is before it."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW MASTER STATUS")
            file, pos = cur.fetchone()[:2]
    finally:
        conn.close()
    return BinlogPosition(str(file), int(pos))


def source_rows(sql: Sql, table: str, columns: str = "*", order: str = "id") -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sql(f"SELECT {columns} FROM `{table}` ORDER BY {order}")]


# Targets ----------------------------------------------------------------------------------------------

class Target:
    engine = ""
    config_json: dict[str, Any]

    def table(self, name: str) -> TableId:
        raise NotImplementedError

    def query(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def qualified(self, name: str) -> str:
        table = self.table(name)
        return f"{self.quote(table.database)}.{self.quote(table.name)}"

    def rows(self, name: str, columns: str = "*", order: str = "id") -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.query(f"SELECT {columns} FROM {self.qualified(name)} ORDER BY {order}")]

    def count(self, name: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {self.qualified(name)}")[0][0])

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def columns(self, name: str) -> list[str]:
        raise NotImplementedError

    def primary_key(self, name: str) -> list[str]:
        raise NotImplementedError

    def unique_keys(self, name: str) -> list[list[str]]:
        raise NotImplementedError


class PgTarget(Target):
    engine = "postgresql"

    def __init__(self, server: PostgresServer, database: str, schema: str) -> None:
        self.database = database
        self.schema = schema  # a MySQL source database becomes a PostgreSQL schema of the same name
        self.conn = server.connect(database)
        self.conn.execute("SET TIME ZONE 'UTC'")
        self.config_json = {"engine": "postgresql", "host": server.host, "port": server.port, "user": server.user,
                            "password": server.password, "database": database}

    def table(self, name: str) -> TableId:
        return TableId(self.schema, name)

    def query(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(statement.encode() if args is None else statement, args)
        return cursor.fetchall() if cursor.description else []

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def exists(self, name: str) -> bool:
        return self.query("SELECT to_regclass(%s) IS NOT NULL", [self.qualified(name)]) == [(True,)]

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", [self.qualified(name)])]

    def column_types(self, name: str) -> dict[str, str]:
        return dict(self.query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            "to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [self.qualified(name)]))

    def _indexes(self, name: str) -> list[tuple[bool, list[str]]]:
        return [(bool(primary), list(cols)) for primary, cols in self.query(
            "SELECT i.indisprimary, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique ORDER BY i.indexrelid",
            [self.qualified(name)])]

    def primary_key(self, name: str) -> list[str]:
        return next((cols for primary, cols in self._indexes(name) if primary), [])

    def unique_keys(self, name: str) -> list[list[str]]:
        return [cols for primary, cols in self._indexes(name) if not primary]

    def close(self) -> None:
        self.conn.close()


class MySQLTarget(Target):
    engine = "mysql"

    def __init__(self, server: MariaDBServer, database: str) -> None:
        self.database = database
        self.conn = server.connect()
        with self.conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        self.config_json = {"engine": "mysql", "host": server.host, "port": server.port, "user": server.user,
                            "password": server.password}

    def table(self, name: str) -> TableId:
        return TableId(self.database, name)

    def query(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def exists(self, name: str) -> bool:
        return bool(self.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                               "AND TABLE_NAME = %s", [self.database, name])[0][0])

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                                         "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", [self.database, name])]

    def column_types(self, name: str) -> dict[str, str]:
        return dict(self.query("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                               [self.database, name]))

    def _indexes(self, name: str) -> dict[str, list[str]]:
        indexes: dict[str, list[str]] = {}
        for index, column in self.query(
                "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND "
                "TABLE_NAME = %s AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX", [self.database, name]):
            indexes.setdefault(index, []).append(column)
        return indexes

    def primary_key(self, name: str) -> list[str]:
        return self._indexes(name).get("PRIMARY", [])

    def unique_keys(self, name: str) -> list[list[str]]:
        return [cols for index, cols in self._indexes(name).items() if index != "PRIMARY"]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def pg_target(postgres: PostgresServer, pg_db: str, mysql_db: str) -> Iterator[PgTarget]:
    target = PgTarget(postgres, pg_db, mysql_db)
    yield target
    target.close()


@pytest.fixture
def mysql_target(mariadb: MariaDBServer, mysql_db: str) -> Iterator[MySQLTarget]:
    """A second database on the source's server: tables keep their names, in {source db}_dst."""
    database = f"{mysql_db}_dst"
    target = MySQLTarget(mariadb, database)
    yield target
    target.query(f"DROP DATABASE IF EXISTS `{database}`")
    target.close()


@pytest.fixture(params=["postgresql", "mysql"])
def target(request: pytest.FixtureRequest) -> Target:
    """The same behaviour, checked with each target engine."""
    return request.getfixturevalue("pg_target" if request.param == "postgresql" else "mysql_target")  # type: ignore[no-any-return]


# Specs and runs ---------------------------------------------------------------------------------------

def source_json(server: MariaDBServer) -> dict[str, Any]:
    return {"engine": "mysql", "host": server.host, "port": server.port, "user": server.user,
            "password": server.password, "connect_timeout": 3.0}


def spec_json(server: MariaDBServer, database: str, target: Target, tables: list[str], mode: str,
              **options: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"server_id": next(_server_ids), "heartbeat_seconds": 0.3, "flush_interval": 0.2}
    values.update(options)
    return {"name": "pipeline-test", "source": source_json(server), "target": dict(target.config_json),
            "mode": mode, "tables": [{"source": f"{database}.{name}", "target": str(target.table(name))}
                                     for name in tables],
            "options": values}


@pytest.fixture
def make_spec(mariadb: MariaDBServer, mysql_db: str) -> Callable[..., TaskSpec]:
    """make_spec(target, ["t"], "full", **options): a TaskSpec from its JSON form (validated)."""
    def make(target: Target, tables: list[str], mode: str, **options: Any) -> TaskSpec:
        return TaskSpec.from_json(spec_json(mariadb, mysql_db, target, tables, mode, **options))
    return make


class Recorder(NullObserver):
    """Everything the engine reports, for assertions."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.phase_times: dict[str, float] = {}  # time.monotonic() when each phase began
        self.logs: list[tuple[str, str]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.applied_events = 0
        self._lock = threading.Lock()

    def phase(self, name: str) -> None:
        self.phases.append(name)
        self.phase_times.setdefault(name, time.monotonic())

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None:
        self.applied_events += events

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None:
        with self._lock:
            self.quarantine.append({"table": table, "key": key, "row": row, "column": column, "error": error,
                                    "position": position})


class Run:
    """A TaskRunner in a thread."""

    def __init__(self, spec: TaskSpec, store: CheckpointStore | None = None, observer: Any = None) -> None:
        self.spec = spec
        self.store = store if store is not None else MemoryCheckpointStore()
        self.observer = observer if observer is not None else Recorder()
        self.stop_event = threading.Event()
        self.runner = TaskRunner(spec, self.store, self.observer, self.stop_event)
        self.outcome: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="task-runner", daemon=True)

    def _run(self) -> None:
        try:
            self.outcome = self.runner.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def start(self) -> Run:
        self.thread.start()
        return self

    def state(self) -> dict[str, Any]:
        return self.store.load() or {}

    def _check_alive(self) -> None:
        if not self.thread.is_alive():
            if self.error is not None:
                raise AssertionError(f"the task failed: {self.error!r}") from self.error
            raise AssertionError(f"the task ended early: {self.outcome!r}, state {self.state()}")

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = CAUGHT_UP_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            self._check_alive()
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; state {self.state()}")

    def wait_streaming(self) -> None:
        """Until the stream has recorded its start position: changes made after this are streamed."""
        self.wait(lambda: self.state().get("phase") == "stream" and "position" in self.state(), "the stream")

    def position(self) -> BinlogPosition | None:
        saved = self.state().get("position")
        return BinlogPosition.from_json(saved) if saved else None

    def wait_caught_up(self, head: BinlogPosition, timeout: float = CAUGHT_UP_TIMEOUT) -> None:
        """Until the checkpoint (saved only after the sink committed) has reached head."""
        def reached() -> bool:
            position = self.position()
            return position is not None and not position < head
        self.wait(reached, f"the checkpoint to reach {head}", timeout)

    def join(self, timeout: float = 60.0) -> str | None:
        """Wait for the end of a run that ends by itself (schema, full, or a failure); re-raise its error."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the task did not end within {timeout}s; state {self.state()}"
        if self.error is not None:
            raise self.error
        return self.outcome

    def finish(self, timeout: float = 60.0) -> str | None:
        """Stop the run (a stop request, as Ctrl-C or the control plane sends) and wait for its end."""
        self.stop_event.set()
        return self.join(timeout)

    def failure(self, timeout: float = 60.0) -> BaseException:
        """The error the run ends with (it must end with one)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the task did not end within {timeout}s; state {self.state()}"
        assert self.error is not None, f"the task ended without an error: {self.outcome!r}"
        return self.error


@pytest.fixture
def runs() -> Iterator[Callable[..., Run]]:
    """runs(spec, store=None, observer=None): a started Run; every run still going is stopped afterwards."""
    started: list[Run] = []

    def start(spec: TaskSpec, store: CheckpointStore | None = None, observer: Any = None) -> Run:
        run = Run(spec, store, observer).start()
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop_event.set()
    for run in started:
        run.thread.join(60)


def run_to_end(spec: TaskSpec, store: CheckpointStore | None = None, observer: Any = None,
               timeout: float = 120.0) -> tuple[str | None, Run]:
    run = Run(spec, store, observer).start()
    return run.join(timeout), run


def assert_same_rows(sql: Sql, target: Target, table: str, columns: str = "*", order: str = "id") -> list[Any]:
    """Source and target hold the same rows, compared row by row; returns them."""
    expected = source_rows(sql, table, columns, order)
    actual = target.rows(table, columns, order)
    missing = [row for row in expected if row not in actual]
    extra = [row for row in actual if row not in expected]
    assert actual == expected, (f"{table}: {len(expected)} rows at the source, {len(actual)} at the target; "
                                f"missing {missing[:5]}, extra {extra[:5]}")
    return actual


# Concurrent source writes -----------------------------------------------------------------------------

class Writer(threading.Thread):
    """Random inserts, updates, deletes and primary-key updates on `table (id int pk, v varchar, n int)`.

    Each operation is its own transaction, except every tenth which groups several in one. ``times``
    records when each operation committed (time.monotonic()), to show writes overlapped a phase.
    """

    def __init__(self, server: MariaDBServer, database: str, table: str, *, keys: int, seed: int = 1,
                 pause: float = 0.0) -> None:
        super().__init__(name="source-writer", daemon=True)
        self.conn = server.connect(database)
        self.table = table
        self.keys = keys
        self.rng = random.Random(seed)
        self.pause = pause
        self.halt = threading.Event()
        self.times: list[float] = []
        self.error: BaseException | None = None

    def _one(self, cur: Any) -> None:
        rng, table = self.rng, self.table
        choice = rng.random()
        key = rng.randrange(1, self.keys)
        if choice < 0.3:
            cur.execute(f"INSERT INTO `{table}` (id, v, n) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE v = VALUES(v)",
                        (key, f"ins {key} {rng.random():.6f}", rng.randrange(1000)))
        elif choice < 0.6:
            cur.execute(f"UPDATE `{table}` SET v = %s, n = n + 1 WHERE id = %s", (f"upd {rng.random():.6f}", key))
        elif choice < 0.75:
            cur.execute(f"DELETE FROM `{table}` WHERE id = %s", (key,))
        else:  # a primary-key change (skipped by IGNORE when the new key is taken)
            cur.execute(f"UPDATE IGNORE `{table}` SET id = %s WHERE id = %s", (rng.randrange(1, self.keys), key))

    def run(self) -> None:
        try:
            with self.conn.cursor() as cur:
                count = 0
                while not self.halt.is_set():
                    count += 1
                    if count % 10 == 0:
                        cur.execute("BEGIN")
                        for _ in range(5):
                            self._one(cur)
                        cur.execute("COMMIT")
                    else:
                        self._one(cur)
                    self.times.append(time.monotonic())
                    if self.pause:
                        time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def finish(self) -> int:
        """Stop writing; returns how many operations committed."""
        self.halt.set()
        self.join(30)
        self.conn.close()
        if self.error is not None:
            raise self.error
        return len(self.times)

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.times if start <= t <= end)


def fill(sql: Sql, table: str, count: int, *, start: int = 1) -> None:
    """`table (id int pk, v varchar(64), n int)` with rows start..start+count-1."""
    sql(f"CREATE TABLE IF NOT EXISTS `{table}` (id INT PRIMARY KEY, v VARCHAR(64), n INT)")
    for low in range(start, start + count, 1000):
        high = min(start + count, low + 1000)
        values = ", ".join(f"({i}, 'row {i}', {i % 97})" for i in range(low, high))
        sql(f"INSERT INTO `{table}` (id, v, n) VALUES {values}")
