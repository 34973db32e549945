"""Browser journeys on the task page: rows the target refused are edited and replayed or discarded from the
quarantine; a PostgreSQL-source task shows its replication slot (name, retained WAL, state), and deleting the
task (after its confirmation) drops the slot on the source."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import expect

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.sync.models import QuarantinedRow, Status, SyncTask
from dts.sync.runner import SyncRunner
from tests.connectors.mysql.conftest import Sql
from tests.connectors.postgresql.conftest import PgSql, drop_slots
from tests.dts.conftest import Personas
from tests.e2e.conftest import Console, Platform, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.django_db(transaction=True)]


def test_quarantined_rows_are_edited_and_replayed_or_discarded_in_the_console(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas, mariadb: MariaDBServer,
        mysql_db: str, postgres: PostgresServer, pg_db: str, settings: Any) -> None:
    src = Sql(mariadb, mysql_db)
    src("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    # PostgreSQL text cannot hold NUL: the target refuses rows 2 and 3, which the policy quarantines.
    src("INSERT INTO notes VALUES (1, 'fine'), (2, CONCAT('a', CHAR(0), 'b')), (3, CONCAT('x', CHAR(0)))")
    src.close()
    source = Datasource.objects.create(workspace=personas.workspace, name="mariadb-src", engine="mysql",
                                       host=mariadb.host, port=mariadb.port, user="root", password="")
    target = Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                       host=postgres.host, port=postgres.port, user="postgres",
                                       password="postgres", database=pg_db)
    task = SyncTask.objects.create(workspace=personas.workspace, name="notes-copy", source=source, target=target,
                                   mode="full", tables=[f"{mysql_db}.notes"],
                                   options={"dirty_data_policy": "quarantine", "max_quarantine": 10})
    # The load runs in this process before the browser opens (the journey is the console's part).
    settings.DTS_DISTRIBUTED_SNAPSHOT = False
    task.allocate_server_id()
    task.request_start(actor=personas.operator)
    SyncRunner(task.pk).run()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED, task.status_message
    assert QuarantinedRow.objects.filter(task=task).count() == 2
    connections.close_all()  # the runner's threads are done: leave the SQLite file to the platform's writes

    def target_rows() -> list[tuple[Any, ...]]:
        with postgres.connect(pg_db) as conn:
            return [tuple(r) for r in conn.execute(f'SELECT id, body FROM "{mysql_db}".notes ORDER BY id').fetchall()]

    assert target_rows() == [(1, "fine")]

    operator = sign_in("oscar")
    page = operator.page
    page.goto(f"/tasks/{task.pk}")
    page.get_by_role("tab", name="Quarantine").click()
    rows = page.get_by_role("tabpanel", name="Quarantine").locator("tr.ant-table-row")
    expect(rows).to_have_count(2)
    row2, row3 = rows.filter(has_text="[2]"), rows.filter(has_text="[3]")
    expect(row2).to_contain_text("body")  # the column the target refused
    operator.shot("quarantine")

    # Edit row 2 (drop the NUL), then replay it: it reaches the target and leaves the quarantine.
    row2.get_by_role("button", name="Edit").click()
    editor = page.locator(".ant-modal:visible textarea")
    assert json.loads(editor.input_value()) == {"id": 2, "body": {"$text_nul": ["a", "b"]}}  # the NUL, shown
    editor.fill(json.dumps({"id": 2, "body": "ab"}))
    with page.expect_response(lambda r: "/quarantine/" in r.url and r.request.method == "PATCH",
                              timeout=20_000) as patched:
        page.locator(".ant-modal:visible").get_by_role("button", name="OK").click()
    assert patched.value.status == 200, patched.value.text()
    expect(page.locator(".ant-modal:visible")).to_have_count(0, timeout=10_000)
    assert QuarantinedRow.objects.get(task=task, key=[2]).row == {"id": 2, "body": "ab"}
    row2.get_by_role("button", name="Replay").click()
    expect(rows).to_have_count(1)
    assert target_rows() == [(1, "fine"), (2, "ab")]

    # Discard row 3 after confirming: it never reaches the target, and the audit log says who dropped it.
    row3.get_by_role("button", name="Discard").click()
    page.locator(".ant-popconfirm:visible").get_by_role("button", name="OK").click()
    expect(page.get_by_text("Nothing quarantined")).to_be_visible()
    operator.shot("quarantine-empty")
    assert target_rows() == [(1, "fine"), (2, "ab")]
    assert not QuarantinedRow.objects.filter(task=task).exists()
    actions = set(AuditLog.objects.filter(actor=personas.operator).values_list("action", flat=True))
    assert {"quarantine_edit", "quarantine_replay", "quarantine_discard"} <= actions


@pytest.fixture
def pg_pair(personas: Personas, postgres: PostgresServer, pg_db: str) -> Iterator[tuple[Datasource, PgSql]]:
    """A PostgreSQL source (pg_db, public.orders) and a target database beside it on the same server."""
    sql = PgSql(postgres, pg_db)
    sql("CREATE TABLE public.orders (id int PRIMARY KEY, note text)")
    sql("INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(1, 200) g")
    target_db = f"{pg_db}_dst"
    admin = postgres.connect()
    admin.execute(f'CREATE DATABASE "{target_db}"')
    common = {"workspace": personas.workspace, "engine": "postgresql", "host": postgres.host, "port": postgres.port,
              "user": postgres.user, "password": postgres.password}
    Datasource.objects.create(name="pg-src", database=pg_db, **common)
    Datasource.objects.create(name="pg-dst", database=target_db, **common)
    yield Datasource.objects.get(name="pg-src"), sql
    sql.close()
    drop_slots(postgres, pg_db)
    admin.execute(f'DROP DATABASE IF EXISTS "{target_db}" WITH (FORCE)')
    admin.close()


def test_a_postgresql_task_shows_its_slot_and_deleting_it_drops_the_slot(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas,
        pg_pair: tuple[Datasource, PgSql]) -> None:
    source, sql = pg_pair
    platform.worker()
    created = personas.client(personas.operator).post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "pg-orders", "source": source.pk,
        "target": Datasource.objects.get(name="pg-dst").pk, "mode": "full+incremental",
        "tables": ["public.orders"]}, format="json")
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    slot = f"dts_task_{task_id}"

    def slots() -> list[str]:
        return [row[0] for row in sql("SELECT slot_name::text FROM pg_replication_slots ORDER BY 1")]

    operator = sign_in("oscar")
    page = operator.page
    page.goto(f"/tasks/{task_id}")
    card = page.get_by_test_id("pg-slot")
    expect(card.get_by_test_id("pg-slot-name")).to_have_text(slot)
    page.get_by_test_id("task-start").click()
    expect(page.get_by_test_id("task-phase")).to_have_text("stream", timeout=120_000)
    assert slots() == [slot]
    # The monitor measures the slot's retained WAL; the card shows it humanised, bytes in data-bytes.
    wal = card.get_by_test_id("pg-slot-wal")
    expect(wal).to_have_attribute("data-bytes", re.compile(r"^\d+$"), timeout=60_000)
    expect(wal).to_have_text(re.compile(r"^\d+(\.\d)? (bytes|KiB|MiB|GiB)$"))
    expect(card.get_by_test_id("pg-slot-state")).to_contain_text(re.compile("caught_up|behind|unknown"))
    expect(card.get_by_test_id("pg-slot-state")).to_contain_text("in use")
    operator.shot("task-pg-slot")

    page.get_by_test_id("task-stop").click()
    expect(page.get_by_test_id("task-status")).to_have_text("stopped", timeout=60_000)
    page.get_by_test_id("task-delete").click()
    page.locator(".ant-popconfirm:visible").get_by_role("button", name="OK").click()
    # The delete drops the slot on the source first (once its WAL sender has gone): it may take a moment.
    expect(page).to_have_url(f"{platform.url}/tasks", timeout=60_000)
    wait_until(lambda: slots() == [], 30, "the task's slot to be dropped", platform.logs)
    assert not SyncTask.objects.filter(pk=task_id).exists()
