"""Browser journeys on the compare and DDL-review APIs: each runs when its endpoint is in this build and is
reported SKIPPED (with the reason) otherwise, never silently passed.

Compare: a clean compare shows zero differences; a planted difference (a changed and a deleted target row)
is found, shown side by side, repaired, and a re-run is clean again. DDL review: with the DDL policy
"review", a source ALTER waits in the task's DDL inbox until approved in the console, then reaches the target.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from tests.dts.conftest import Personas
from tests.dts.sync.test_sync_end_to_end import assert_converges, phase, seed
from tests.e2e.conftest import Console, Platform, nav, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.django_db(transaction=True)]


def require_endpoint(path: str, what: str) -> None:
    try:
        resolve(path)
    except Resolver404:
        pytest.skip(f"{what} ({path}) is not in this build yet; this journey runs once it is")


def streaming_task(personas: Personas, platform: Platform, mariadb: MariaDBServer, mysql_db: str,
                   postgres: PostgresServer, pg_db: str, **options: object) -> int:
    """Datasources and a running full+incremental task, made through the API (the journey test covers the UI)."""
    source = Datasource.objects.create(workspace=personas.workspace, name="mariadb-src", engine="mysql",
                                       host=mariadb.host, port=mariadb.port, user="root", password="")
    target = Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                       host=postgres.host, port=postgres.port, user="postgres",
                                       password="postgres", database=pg_db)
    client = personas.client(personas.operator)
    response = client.post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "orders-sync", "source": source.pk, "target": target.pk,
        "mode": "full+incremental", "tables": [f"{mysql_db}.orders"], "options": {"chunk_size": 1000, **options}},
        format="json")
    assert response.status_code == 201, response.content
    task_id: int = response.json()["id"]
    assert client.post(f"/api/tasks/{task_id}/start/").status_code == 202
    wait_until(lambda: phase(task_id) == "stream", 120, "the task to stream", platform.logs)
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=platform.logs)
    return task_id


def run_compare(console: Console, name: str, platform: Platform) -> None:
    """Run the compare from the list, open the new run and wait for it to complete."""
    page = console.page
    nav(page, "Compare")
    last = page.get_by_test_id(f"last-run-{name}")
    expect(last).to_be_visible()
    page.wait_for_timeout(500)  # the runs list loads beside the compares: let it settle before reading
    before = last.inner_text()
    page.get_by_test_id(f"compare-run-{name}").click()
    wait_until(lambda: "#" in last.inner_text() and last.inner_text().split("#")[-1] != before.split("#")[-1], 30,
               "the new run to be listed", platform.logs)
    last.get_by_role("link").click()
    expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=120_000)


def test_compare_finds_nothing_then_a_planted_difference_which_repair_fixes(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas, mariadb: MariaDBServer,
        mysql_db: str, postgres: PostgresServer, pg_db: str) -> None:
    require_endpoint("/api/compare-tasks/", "The compare API")
    seed(mariadb, mysql_db, 3000)
    platform.worker()
    streaming_task(personas, platform, mariadb, mysql_db, postgres, pg_db)
    operator = sign_in("oscar")
    page = operator.page

    nav(page, "Compare")
    page.get_by_test_id("compare-new").click()
    form = page.get_by_test_id("compare-form")
    form.locator("#name").fill("orders-check")
    form.locator("#sync_task").click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text="orders-sync").first.click()
    page.get_by_role("button", name="OK").click()
    expect(page.get_by_role("cell", name="orders-check", exact=True)).to_be_visible()

    run_compare(operator, "orders-check", platform)
    for kind in ("missing", "extra", "different"):
        expect(page.get_by_test_id(f"count-{kind}")).to_have_text("0")
    expect(page.get_by_text("No differences")).to_be_visible()
    operator.shot("compare-clean")

    with postgres.connect(pg_db) as conn:  # plant: one changed row, one lost row
        conn.execute(f'UPDATE "{mysql_db}".orders SET note = %s WHERE id = 5', ["planted"])
        conn.execute(f'DELETE FROM "{mysql_db}".orders WHERE id = 6')
    run_compare(operator, "orders-check", platform)
    expect(page.get_by_test_id("count-different")).to_have_text("1")
    expect(page.get_by_test_id("count-missing")).to_have_text("1")
    diffs = page.get_by_test_id("diffs")
    changed = diffs.locator("tr.ant-table-row").filter(has=page.locator(".ant-tag", has_text="different"))
    expect(changed).to_have_count(1)
    # Side by side, only the differing column is highlighted, with both values shown.
    expect(changed.locator('tr[data-differs="yes"]')).to_have_count(1)
    expect(changed.locator('tr[data-differs="yes"]')).to_contain_text("note")
    expect(changed.locator('tr[data-differs="yes"]')).to_contain_text('"planted"')
    expect(diffs.locator("tr.ant-table-row").filter(has=page.locator(".ant-tag", has_text="missing"))).to_have_count(1)
    operator.shot("compare-differences")

    # Export SQL: the statements that would repair both rows, without applying them.
    page.get_by_test_id("repair-sql").click()
    statements = page.get_by_test_id("repair-sql-text")
    expect(statements).to_contain_text("INSERT", timeout=120_000)
    expect(statements).to_contain_text("ON CONFLICT")
    assert statements.inner_text().count("INSERT") == 2  # the changed row and the lost one, by key
    operator.shot("compare-repair-sql")
    with postgres.connect(pg_db) as conn:  # exported, not applied: the target still has the planted note
        assert conn.execute(f'SELECT note FROM "{mysql_db}".orders WHERE id = 5').fetchone() == ("planted",)
    page.keyboard.press("Escape")

    page.get_by_test_id("repair-all").click()
    expect(page.get_by_test_id("repair-status")).to_contain_text("repaired 2 of 2", timeout=120_000)
    operator.shot("compare-repaired")
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=platform.logs)
    run_compare(operator, "orders-check", platform)
    for kind in ("missing", "extra", "different"):
        expect(page.get_by_test_id(f"count-{kind}")).to_have_text("0")


def test_a_reviewed_ddl_change_waits_in_the_inbox_until_approved(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas, mariadb: MariaDBServer,
        mysql_db: str, postgres: PostgresServer, pg_db: str) -> None:
    require_endpoint("/api/tasks/1/ddl-inbox/", "The DDL inbox API")
    seed(mariadb, mysql_db, 500)
    platform.worker()
    task_id = streaming_task(personas, platform, mariadb, mysql_db, postgres, pg_db, ddl_policy="review")
    conn = mariadb.connect(mysql_db)
    conn.cursor().execute("ALTER TABLE orders ADD COLUMN channel VARCHAR(16) NULL")
    conn.close()
    operator = sign_in("oscar")
    page = operator.page
    page.goto(f"/tasks/{task_id}")
    page.get_by_role("tab", name="DDL inbox").click()
    pending = page.get_by_role("row").filter(has_text="channel")
    expect(pending.locator(".ant-tag", has_text="pending")).to_be_visible(timeout=60_000)
    operator.shot("ddl-inbox-pending")

    def target_has_column() -> bool:
        with postgres.connect(pg_db) as pg:
            row = pg.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = %s "
                             "AND table_name = 'orders' AND column_name = 'channel'", [mysql_db]).fetchone()
            return row is not None and row[0] == 1

    assert not target_has_column()  # review: nothing reaches the target before approval
    pending.get_by_role("button", name="Approve").click()
    expect(pending.locator(".ant-tag", has_text="applied")).to_be_visible(timeout=60_000)
    wait_until(target_has_column, 30, "the approved column on the target", platform.logs)
    operator.shot("ddl-inbox-applied")
