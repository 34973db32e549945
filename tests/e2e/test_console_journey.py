"""The operator's day in the browser, against the real platform (daphne + Celery + beat) and real
MariaDB → PostgreSQL: sign in, add and check both datasources, create a full+incremental task with the
wizard, start it, watch the snapshot reach 100% and the lag chart move while the source is written,
wire a webhook and see an alert fire, and check that a viewer cannot start the task and an outsider
sees "not found".
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.monitor.models import AlertEvent
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import Receiver
from tests.dts.sync.test_sync_end_to_end import SourceWriter, assert_converges, seed
from tests.e2e.conftest import Console, Platform, nav, pick, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.django_db(transaction=True)]


def has_route(path: str, name: str) -> bool:
    try:
        return resolve(path).url_name == name
    except Resolver404:
        return False


def add_datasource(console: Console, *, engine: str | None, name: str, host: str, port: int, user: str,
                   password: str, database: str = "") -> None:
    page = console.page
    page.get_by_role("button", name="New datasource").click()
    form = page.get_by_test_id("datasource-form")
    if engine:
        form.locator(".ant-select").first.click()
        page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=engine).first.click()
    form.locator("#name").fill(name)
    form.locator("#host").fill(host)
    form.locator("#port").fill(str(port))
    form.locator("#user").fill(user)
    form.locator("#password").fill(password)
    form.locator("#database").fill(database)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()


def check_datasource(console: Console, name: str) -> str:
    """Runs the check from the list; returns the overall status the console shows."""
    page = console.page
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))
    row.get_by_role("button", name="Check").click()
    overall = page.get_by_test_id("check-overall")
    expect(overall).to_be_visible(timeout=60_000)
    items = page.get_by_test_id("check-result").locator("tbody tr")
    assert items.count() >= 2, "the check shows each pre-flight item"
    status = overall.locator(".ant-tag").inner_text().strip()
    console.shot(f"check-{name}")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id(f"last-check-{name}").locator(".ant-tag")).to_have_text(status)
    return status


def test_operator_journey_from_sign_in_to_a_live_task_and_its_alert(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas, mariadb: MariaDBServer,
        mysql_db: str, postgres: PostgresServer, pg_db: str, receiver: Receiver) -> None:
    seed(mariadb, mysql_db, 6000)
    alerts_worker = platform.worker(("default",))  # delivers alerts, evaluates the monitor; stays up
    engine = platform.worker(("stream", "snapshot", "compare"))  # runs the task; killed later
    operator = sign_in("oscar")
    page = operator.page
    operator.shot("dashboard-empty")
    pick(page, "language", "简体中文")  # the whole UI switches, antd's own texts included
    expect(page.get_by_role("menuitem", name="数据源")).to_be_visible()
    operator.shot("dashboard-zh")
    pick(page, "language", "English")
    expect(page.get_by_role("menuitem", name="Datasources")).to_be_visible()

    # --- datasources: create and check both -----------------------------------------------------------
    nav(page, "Datasources")
    add_datasource(operator, engine=None, name="mariadb-src", host=mariadb.host, port=mariadb.port, user="root",
                   password="")
    add_datasource(operator, engine="PostgreSQL", name="pg-dst", host=postgres.host, port=postgres.port,
                   user="postgres", password="postgres", database=pg_db)
    assert check_datasource(operator, "mariadb-src") in ("passed", "warning")
    assert check_datasource(operator, "pg-dst") in ("passed", "warning")
    source = Datasource.objects.get(name="mariadb-src")
    assert source.password == "" and Datasource.objects.get(name="pg-dst").password == "postgres"
    operator.shot("datasources")

    # --- the wizard ------------------------------------------------------------------------------------
    nav(page, "Tasks")
    page.get_by_role("button", name="New task").click()
    page.get_by_test_id("task-name").fill("orders-sync")
    pick(page, "task-source", "mariadb-src")
    page.get_by_test_id("wizard-next").click()
    pick(page, "task-target", "pg-dst")
    page.get_by_test_id("wizard-next").click()
    page.get_by_test_id("regex").fill(rf"^{mysql_db}\.orders$")
    page.get_by_test_id("regex-select").click()
    expect(page.get_by_text("1 selected")).to_be_visible(timeout=60_000)
    operator.shot("wizard-tables")
    page.get_by_test_id("wizard-next").click()
    # Mapping: defaults; the preview shows sample rows as they would land (when this build has the endpoint).
    page.get_by_role("button", name="Preview").click()
    if has_route("/api/tasks/preview/", "synctask-preview"):
        preview = page.get_by_test_id("preview-table")
        expect(preview).to_contain_text(f"{mysql_db}.orders", timeout=60_000)
        assert preview.locator("tbody tr.ant-table-row").count() >= 1
        expect(preview.get_by_role("columnheader", name="note")).to_have_count(1)
        # A transform reaches the preview: without the column, then back to the defaults for the task.
        mapping = page.get_by_test_id("mapping-json")
        mapping.fill(f'{{"tables": {{"{mysql_db}.orders": {{"columns": {{"exclude": ["note"]}}}}}}}}')
        page.get_by_role("button", name="Preview").click()
        expect(preview.get_by_role("columnheader", name="note")).to_have_count(0)
        expect(preview.get_by_role("columnheader", name="customer")).to_have_count(1)
        operator.shot("wizard-preview-transformed")
        mapping.fill("{}")
    else:
        expect(page.get_by_text("This platform has no preview endpoint yet")).to_be_visible()
    operator.shot("wizard-preview")
    page.get_by_test_id("wizard-next").click()
    rate = page.locator('input[data-testid="opt-rate"], [data-testid="opt-rate"] input').first
    rate.fill("3000")  # slow enough to watch the snapshot
    page.get_by_test_id("wizard-next").click()
    # The pre-check runs on the draft before anything is created; Create comes after its results.
    step = page.get_by_test_id("precheck-step")
    expect(step).to_have_attribute("data-verdict", re.compile("^(passed|warning)$"), timeout=60_000)
    checked = step.get_by_test_id("check-result")
    expect(checked.get_by_role("row").filter(has_text=f"{mysql_db}.orders").locator(".ant-tag")).to_have_text("passed")
    assert not SyncTask.objects.filter(name="orders-sync").exists()
    operator.shot("wizard-precheck-before-create")
    page.get_by_test_id("task-create").click()
    expect(page.get_by_text("Task created")).to_be_visible()
    expect(page.get_by_test_id("check-result")).to_be_visible(timeout=60_000)
    operator.shot("wizard-precheck")
    task = SyncTask.objects.get(name="orders-sync")
    assert task.mode == "full+incremental" and task.tables == [f"{mysql_db}.orders"]
    assert task.options["rate_limit_rows"] == 3000 and task.source_id == source.pk

    # --- start it and watch ----------------------------------------------------------------------------
    page.get_by_test_id("open-task").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task.pk}$"))
    expect(page.get_by_test_id("socket-state")).to_have_text("open")
    expect(page.get_by_test_id("pg-slot")).to_have_count(0)  # a MariaDB source has no replication slot
    page.get_by_test_id("task-start").click()
    progress = page.locator(f'[data-testid="table-progress"][data-table="{mysql_db}.orders"]')
    expect(progress).to_be_visible(timeout=90_000)
    seen = set()
    for _ in range(600):  # the bar moves, then reaches 100 when the table is finished
        seen.add(int(progress.get_attribute("data-percent") or 0))
        if 100 in seen:
            break
        page.wait_for_timeout(100)
    assert 100 in seen, f"snapshot progress seen: {sorted(seen)}\n{platform.logs()}"
    operator.shot("task-snapshot-done")
    expect(page.get_by_test_id("task-phase")).to_have_text("stream", timeout=90_000)

    lag_chart = page.get_by_test_id("lag-chart")
    with SourceWriter(mariadb, mysql_db, 100_000) as writer:
        before = int(lag_chart.get_attribute("data-points") or 0)
        wait_until(lambda: int(lag_chart.get_attribute("data-points") or 0) >= before + 3, 60,
                   "the lag chart to take three new points over the WebSocket", platform.logs)
        expect(page.get_by_test_id("task-position")).to_contain_text("pos")  # a binlog position, not the dash
        operator.shot("task-live")
    assert writer.statements > 0
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=platform.logs)

    # --- a viewer sees the task but nothing that changes it; an outsider sees "not found" --------------
    viewer = sign_in("vera")
    viewer.page.goto(f"/tasks/{task.pk}")
    expect(viewer.page.get_by_test_id("task-status")).to_be_visible()
    expect(viewer.page.get_by_test_id("task-actions")).to_have_count(0)
    expect(viewer.page.get_by_role("button", name="Start")).to_have_count(0)
    refused = viewer.page.evaluate(
        """async (id) => (await fetch(`/api/tasks/${id}/start/`, {method: "POST", headers: {"X-CSRFToken":
           document.cookie.match(/csrftoken=([^;]+)/)[1]}})).status""", task.pk)
    assert refused == 403
    nav(viewer.page, "Datasources")
    expect(viewer.page.get_by_role("cell", name="mariadb-src", exact=True)).to_be_visible()
    expect(viewer.page.get_by_role("button", name="New datasource")).to_have_count(0)
    expect(viewer.page.get_by_role("button", name="Check")).to_have_count(0)
    viewer.shot("viewer-datasources")
    outsider = sign_in("xander")
    outsider.page.goto(f"/tasks/{task.pk}")
    expect(outsider.page.get_by_text("Not found", exact=True)).to_be_visible()
    outsider.shot("outsider-not-found")

    # --- alerts: a webhook channel, its test message, a lag rule that fires when the stream stops -------
    nav(page, "Alerts")
    page.get_by_role("tab", name="Channels").click()
    page.get_by_test_id("channel-new").click()
    channel_form = page.get_by_test_id("channel-form")
    channel_form.locator("#name").fill("ops-hook")
    channel_form.locator("#url").fill(receiver.url)
    page.get_by_role("button", name="OK").click()
    page.get_by_test_id("channel-test-ops-hook").click()
    expect(page.get_by_test_id("channel-tested-ops-hook")).to_contain_text("sent")
    receiver.wait_for(1)
    page.get_by_role("tab", name="Rules").click()
    page.get_by_test_id("rule-new").click()
    rule_form = page.get_by_test_id("rule-form")
    rule_form.locator("#name").fill("orders lag")
    rule_form.locator("#threshold").fill("2")
    rule_form.locator("#channels").click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text="ops-hook").first.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="OK").click()
    expect(page.get_by_role("cell", name="orders lag", exact=True)).to_be_visible()
    operator.shot("alert-rules")

    with SourceWriter(mariadb, mysql_db, 200_000):
        engine.kill()  # the runner dies while the source keeps writing: lag grows past 2 s
        wait_until(lambda: AlertEvent.objects.filter(rule__name="orders lag", state="firing").exists(), 60,
                   "the lag alert to fire", platform.logs)
    page.get_by_role("tab", name="Events").click()
    events = page.get_by_test_id("alert-events")
    expect(events.get_by_role("cell", name="orders lag")).to_be_visible(timeout=15_000)
    expect(events.locator(".ant-tag", has_text="firing").first).to_be_visible()
    operator.shot("alert-firing")
    fired = wait_until(lambda: [r.json() for r in receiver.requests if r.json().get("state") == "firing"], 30,
                       "the firing webhook", platform.logs)
    assert fired[0]["task"]["name"] == "orders-sync" and fired[0]["rule"]["kind"] == "lag"
    assert alerts_worker.process.poll() is None
