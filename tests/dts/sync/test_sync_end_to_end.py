"""Sync tasks run for real: API → Celery worker process → MariaDB binlog → PostgreSQL.

Every test ends by comparing the target with the source row by row.
"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.jobs import supervise
from dts.sync.models import Checkpoint, SnapshotChunk, SyncTask, TableProgress
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

COLUMNS = "id, customer, amount, created, note"


def seed(mariadb: MariaDBServer, db: str, rows: int) -> None:
    conn = mariadb.connect(db)
    cur = conn.cursor()
    cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(32) NOT NULL, amount DECIMAL(12,2), "
                "created DATETIME(6), note TEXT)")
    batch = []
    for i in range(1, rows + 1):
        batch.append((i, f"c{i % 97}", Decimal(i % 10000) / 100, f"2026-01-01 00:00:{i % 60:02d}.{i % 999999:06d}",
                      None if i % 7 == 0 else f"note {i} 中文 🚀"))
        if len(batch) == 5000:
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", batch)
            batch.clear()
    if batch:
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", batch)
    conn.close()


class SourceWriter:
    """Inserts, updates (including key changes) and deletes rows on the source until stopped."""

    def __init__(self, mariadb: MariaDBServer, db: str, first_new_id: int) -> None:
        self.conn = mariadb.connect(db)
        self.next_id = first_new_id
        self.rng = random.Random(11)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.statements = 0

    def step(self) -> None:
        cur = self.conn.cursor()
        roll = self.rng.random()
        target = self.rng.randint(1, self.next_id)
        if roll < 0.4:
            cur.execute("INSERT INTO orders VALUES (%s, 'new', 1.50, NOW(6), 'inserted live')", (self.next_id,))
            self.next_id += 1
        elif roll < 0.75:
            cur.execute("UPDATE orders SET amount = amount + 1, note = CONCAT(COALESCE(note, ''), '+') WHERE id = %s",
                        (target,))
        elif roll < 0.85:
            cur.execute("UPDATE orders SET id = %s WHERE id = %s", (self.next_id, target))
            self.next_id += 1
        else:
            cur.execute("DELETE FROM orders WHERE id = %s", (target,))
        self.statements += 1

    def _run(self) -> None:
        while not self.stop.is_set():
            self.step()
            time.sleep(0.002)

    def __enter__(self) -> SourceWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def source_rows(mariadb: MariaDBServer, db: str) -> list[tuple[Any, ...]]:
    cur = mariadb.connect(db).cursor()
    cur.execute(f"SELECT {COLUMNS} FROM orders ORDER BY id")
    return list(cur.fetchall())


def target_rows(postgres: PostgresServer, pg_db: str, schema: str) -> list[tuple[Any, ...]]:
    with postgres.connect(pg_db) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".orders',)).fetchone()[0]
        if exists is None:
            return []
        return list(conn.execute(f'SELECT {COLUMNS} FROM "{schema}".orders ORDER BY id').fetchall())


def create_task(personas: Personas, source: Datasource, target: Datasource, db: str, **options: Any) -> int:
    client = personas.client(personas.operator)
    response = client.post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "orders-sync", "source": source.pk, "target": target.pk,
        "mode": "full+incremental", "tables": [f"{db}.orders"],
        "options": {"chunk_size": 2000, "batch_size": 500, "parallelism": 2} | options}, format="json")
    assert response.status_code == 201, response.content
    task_id: int = response.json()["id"]
    assert client.post(f"/api/tasks/{task_id}/start/").status_code == 202
    return task_id


def phase(task_id: int) -> str | None:
    checkpoint = Checkpoint.objects.filter(task_id=task_id).first()
    return checkpoint.state.get("phase") if checkpoint else None


def assert_converges(mariadb: MariaDBServer, db: str, postgres: PostgresServer, pg_db: str, timeout: float = 90,
                     diagnostics: Any = str) -> None:
    expected = source_rows(mariadb, db)
    wait_for(lambda: target_rows(postgres, pg_db, db) == expected, timeout, "target = source",
             lambda: f"source {len(expected)} rows, target {len(target_rows(postgres, pg_db, db))}\n{diagnostics()}")


def test_full_then_incremental_with_writes_during_the_snapshot(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        mysql_source: Datasource, pg_target: Datasource, worker_processes: Any) -> None:
    seed(mariadb, mysql_db, 20_000)
    worker = worker_processes()
    with SourceWriter(mariadb, mysql_db, 20_001) as writer:
        task_id = create_task(personas, mysql_source, pg_target, mysql_db, rate_limit_rows=10_000)
        wait_for(lambda: phase(task_id) == "stream", 120, "the snapshot to finish", worker.log_tail)
        time.sleep(1)
    assert writer.statements > 50  # the source really changed during the snapshot
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)
    progress = TableProgress.objects.get(task_id=task_id)
    assert progress.finished and progress.rows_done >= 20_000
    # The chunks were loaded as separate jobs from the 'snapshot' queue, each exactly once to the end.
    chunks = SnapshotChunk.objects.filter(task_id=task_id)
    assert chunks.count() == progress.chunks_total >= 10
    assert set(chunks.values_list("status", flat=True)) == {"done"}
    assert sum(chunks.values_list("rows", flat=True)) == progress.rows_done

    client = personas.client(personas.operator)
    assert client.post(f"/api/tasks/{task_id}/stop/").status_code == 202
    wait_for(lambda: SyncTask.objects.get(pk=task_id).status == "stopped", 30, "the task to stop", worker.log_tail)
    assert SyncTask.objects.get(pk=task_id).runs.first().status == "stopped"

    # Changes made while stopped arrive after a resume, from the saved position.
    writer = SourceWriter(mariadb, mysql_db, 40_000)
    for _ in range(200):
        writer.step()
    assert client.post(f"/api/tasks/{task_id}/resume/").status_code == 202
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)


def test_a_killed_worker_during_snapshot_and_during_streaming_loses_nothing(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        mysql_source: Datasource, pg_target: Datasource, worker_processes: Any, settings: Any) -> None:
    settings.DTS_LEASE_TTL_SECONDS = 3.0
    seed(mariadb, mysql_db, 30_000)
    worker = worker_processes()
    task_id = create_task(personas, mysql_source, pg_target, mysql_db, chunk_size=1000, rate_limit_rows=6000)

    def some_chunks_done() -> bool:
        progress = TableProgress.objects.filter(task_id=task_id).first()
        return progress is not None and 3 <= progress.chunks_done < progress.chunks_total

    wait_for(some_chunks_done, 60, "the snapshot to be under way", worker.log_tail)
    worker.kill()
    done_at_kill = TableProgress.objects.get(task_id=task_id).chunks_done

    worker = worker_processes()
    revive(task_id, worker)
    wait_for(lambda: phase(task_id) == "stream", 120, "the snapshot to finish after the kill", worker.log_tail)
    assert TableProgress.objects.get(task_id=task_id).chunks_done >= done_at_kill

    with SourceWriter(mariadb, mysql_db, 30_001):
        time.sleep(2)
        worker.kill()
        time.sleep(1)
    worker = worker_processes()
    revive(task_id, worker)
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)
    with postgres.connect(pg_db) as conn:
        (count, distinct) = conn.execute(f'SELECT count(*), count(DISTINCT id) FROM "{mysql_db}".orders').fetchone()
    assert count == distinct == len(source_rows(mariadb, mysql_db))


def revive(task_id: int, worker: Any) -> None:
    """What beat does every few seconds: notice the dead runner's lease has expired and re-enqueue."""
    from django.utils import timezone

    SyncTask.objects.filter(pk=task_id).update(updated_at=timezone.now() - timezone.timedelta(minutes=5))
    wait_for(lambda: supervise() >= 1, 30, "the supervisor to re-enqueue the task", worker.log_tail)


def test_a_table_added_to_a_streaming_task_is_copied_and_joins_while_the_other_keeps_streaming(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        mysql_source: Datasource, pg_target: Datasource, worker_processes: Any) -> None:
    seed(mariadb, mysql_db, 3000)
    cur = mariadb.connect(mysql_db).cursor()
    cur.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, orders_id BIGINT, qty INT)")
    cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(i, i % 3000, i % 7) for i in range(1, 8001)])
    worker = worker_processes()
    task_id = create_task(personas, mysql_source, pg_target, mysql_db)
    wait_for(lambda: phase(task_id) == "stream", 120, "streaming", worker.log_tail)

    def write_items(start: int, count: int) -> None:
        for i in range(start, start + count):
            cur.execute("INSERT INTO items VALUES (%s, %s, 1)", (i, i))
            cur.execute("UPDATE items SET qty = qty + 1 WHERE id = %s", (i - 5000,))
            cur.execute("DELETE FROM items WHERE id = %s", (i - 7000,))

    client = personas.client(personas.operator)
    with SourceWriter(mariadb, mysql_db, 10_000) as writer:
        write_items(100_000, 100)
        edited = client.patch(f"/api/tasks/{task_id}/", {"tables": [f"{mysql_db}.orders", f"{mysql_db}.items"]},
                              format="json")
        assert edited.status_code == 200, edited.content
        write_items(200_000, 300)  # changes to the new table while it is being copied
        wait_for(lambda: "tables" in (Checkpoint.objects.get(task_id=task_id).state or {}) and
                 f"{mysql_db}.items" in Checkpoint.objects.get(task_id=task_id).state["tables"], 120,
                 "the new table to join the stream", worker.log_tail)
        write_items(300_000, 100)
    assert writer.statements > 20  # the first table kept changing throughout
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)
    cur.execute("SELECT id, orders_id, qty FROM items ORDER BY id")
    expected = list(cur.fetchall())
    with postgres.connect(pg_db) as conn:
        wait_for(lambda: list(conn.execute(f'SELECT id, orders_id, qty FROM "{mysql_db}".items ORDER BY id')
                              .fetchall()) == expected, 60, "items at the target = source", worker.log_tail)
    task = SyncTask.objects.get(pk=task_id)
    assert task.status == "running"
    assert task.logs.filter(message__startswith=f"joined {mysql_db}.items").exists()
    assert task.runs.count() == 1  # the same runner carried on: no restart of the task


def test_an_online_schema_change_swap_is_copied_again_by_the_workers(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        mysql_source: Datasource, pg_target: Datasource, worker_processes: Any) -> None:
    seed(mariadb, mysql_db, 2000)
    worker = worker_processes()
    task_id = create_task(personas, mysql_source, pg_target, mysql_db)
    wait_for(lambda: phase(task_id) == "stream", 120, "streaming", worker.log_tail)
    cur = mariadb.connect(mysql_db).cursor()
    cur.execute("CREATE TABLE orders_new LIKE orders")
    cur.execute("INSERT INTO orders_new SELECT id, customer, amount * 2, created, note FROM orders")
    cur.execute("RENAME TABLE orders TO orders_old, orders_new TO orders")
    cur.execute("INSERT INTO orders VALUES (5000, 'after swap', 1.00, NOW(6), NULL)")
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)
    task = SyncTask.objects.get(pk=task_id)
    assert task.status == "running" and task.runs.count() == 1
    assert task.logs.filter(message__contains="was replaced by another table").exists()
