"""Faults a stream must survive: the source restarts, the target is down for a while, and the one
it must not hide: a binlog position that has been purged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.models import Checkpoint, SyncTask
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for
from tests.dts.sync.test_sync_end_to_end import (
    SourceWriter,
    assert_converges,
    create_task,
    phase,
    seed,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def own_mariadb() -> Iterator[MariaDBServer]:
    """A MariaDB this test may restart without disturbing the others."""
    server = MariaDBServer(server_id=7).start()
    server.connect().cursor().execute("CREATE DATABASE shop")
    yield server
    server.stop()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A crash-safe PostgreSQL: with fsync or synchronous_commit off (the suite's fast default), a
    killed server forgets commits it already acknowledged, which no replication tool can undo."""
    server = PostgresServer(settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}).start()
    server.connect().execute("CREATE DATABASE dw")
    yield server
    server.stop()


def datasources(personas: Personas, mariadb: MariaDBServer, postgres: PostgresServer) -> tuple[Datasource, Datasource]:
    source = Datasource.objects.create(workspace=personas.workspace, name="src", engine="mysql", host=mariadb.host,
                                       port=mariadb.port, user="root", password="")
    target = Datasource.objects.create(workspace=personas.workspace, name="dst", engine="postgresql",
                                       host=postgres.host, port=postgres.port, user="postgres",
                                       password=postgres.password, database="dw")
    return source, target


def test_a_source_restart_and_a_target_outage_end_with_target_equal_to_source(
        personas: Personas, own_mariadb: MariaDBServer, own_postgres: PostgresServer, worker_processes: Any) -> None:
    seed(own_mariadb, "shop", 3000)
    source, target = datasources(personas, own_mariadb, own_postgres)
    worker = worker_processes()
    task_id = create_task(personas, source, target, "shop")
    wait_for(lambda: phase(task_id) == "stream", 120, "streaming", worker.log_tail)

    writer = SourceWriter(own_mariadb, "shop", 10_000)
    for _ in range(300):
        writer.step()
    own_mariadb.restart()  # SIGKILL and start again: the stream must reconnect and resume
    writer = SourceWriter(own_mariadb, "shop", 20_000)
    for _ in range(300):
        writer.step()
    assert_converges(own_mariadb, "shop", own_postgres, "dw", diagnostics=worker.log_tail)

    own_postgres.kill()  # the target disappears for a while, with changes pending
    for _ in range(300):
        writer.step()
    time.sleep(3)
    own_postgres.start()
    assert_converges(own_mariadb, "shop", own_postgres, "dw", timeout=150, diagnostics=worker.log_tail)
    task = SyncTask.objects.get(pk=task_id)
    assert task.status == "running", task.status_message
    assert task.logs.filter(level="warning", message__contains="retrying").exists()


def test_a_purged_binlog_position_fails_the_task_saying_a_resnapshot_is_needed(
        personas: Personas, own_mariadb: MariaDBServer, own_postgres: PostgresServer, worker_processes: Any) -> None:
    seed(own_mariadb, "shop", 500)
    source, target = datasources(personas, own_mariadb, own_postgres)
    worker = worker_processes()
    task_id = create_task(personas, source, target, "shop")
    wait_for(lambda: phase(task_id) == "stream", 120, "streaming", worker.log_tail)
    client = personas.client(personas.operator)
    client.post(f"/api/tasks/{task_id}/stop/")
    wait_for(lambda: SyncTask.objects.get(pk=task_id).status == "stopped", 30, "stopped", worker.log_tail)

    cur = own_mariadb.connect("shop").cursor()
    cur.execute("INSERT INTO orders VALUES (900001, 'gone', 1, NOW(6), 'purged')")
    cur.execute("FLUSH BINARY LOGS")
    cur.execute("SHOW MASTER STATUS")
    newest = cur.fetchone()[0]
    saved = Checkpoint.objects.get(task_id=task_id).state["position"]["file"]

    def purged() -> bool:
        # The server keeps a binlog that a connected dump thread still reads: end those first.
        cur.execute("SELECT id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
        for (thread_id,) in cur.fetchall():
            cur.execute(f"KILL {int(thread_id)}")
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
        cur.execute("SHOW BINARY LOGS")
        return saved not in {row[0] for row in cur.fetchall()}

    wait_for(purged, 30, f"{saved} to be purged")

    client.post(f"/api/tasks/{task_id}/resume/")
    wait_for(lambda: SyncTask.objects.get(pk=task_id).status == "failed", 60, "the task to fail", worker.log_tail)
    message = SyncTask.objects.get(pk=task_id).status_message.lower()
    assert "purged" in message or "no longer" in message, message
    assert "snapshot" in message or "restart" in message, message
