"""The monitor against the real engine: API → Celery worker process → MariaDB binlog → PostgreSQL,
alerts delivered by a real worker to a real local HTTP receiver, /ws/tasks/<id>/ fed by the runner.

Beat does not run here: each test evaluates by calling dts.monitor.jobs.evaluate() once a second.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from dts.accounts.models import ApiToken
from dts.asgi import application
from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.monitor import jobs, lag
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, DeliveryStatus, RuleKind
from dts.sync.lease import TaskLease, redis_client
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import QueueWorker, Receiver
from tests.dts.sync.conftest import wait_for
from tests.dts.sync.test_sync_end_to_end import SourceWriter, assert_converges, create_task, phase, revive, seed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def source(personas: Personas, mariadb: MariaDBServer, mysql_db: str) -> Datasource:
    return Datasource.objects.create(workspace=personas.workspace, name="mysql-src", engine="mysql",
                                     host=mariadb.host, port=mariadb.port, user="root", password="")


@pytest.fixture
def target(personas: Personas, postgres: PostgresServer, pg_db: str) -> Datasource:
    return Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                     host=postgres.host, port=postgres.port, user="postgres",
                                     password="postgres", database=pg_db)


def rule(personas: Personas, task_id: int, kind: str, threshold: float, *channels: AlertChannel) -> AlertRule:
    """X = threshold, for Y = 0 s: fires at the first evaluation that sees the condition."""
    created = AlertRule.objects.create(workspace=personas.workspace, task_id=task_id, name=f"{kind} over {threshold}",
                                       kind=kind, threshold=threshold, for_seconds=0)
    created.channels.set(channels)
    return created


def webhook(personas: Personas, receiver: Receiver) -> AlertChannel:
    return AlertChannel.objects.create(workspace=personas.workspace, name="ops-hook", kind="webhook", url=receiver.url)


def measured(task_id: int) -> dict[str, Any]:
    return lag.load(redis_client(), task_id) or {}


def evaluate_once() -> None:
    assert jobs.evaluate() >= 1


def evaluate_until(condition: Callable[[], Any], timeout: float, what: str,
                   diagnostics: Callable[[], str] = str) -> Any:
    """What beat does, once a second: evaluate every watched task, until the condition holds."""
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        assert jobs.evaluate() >= 1
        value = condition()
        if value:
            return value
        if started > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n"
                                 f"last measurement: {measured_any()}\n{diagnostics()}")
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def measured_any() -> dict[str, Any]:
    task = SyncTask.objects.order_by("-pk").first()
    return measured(task.pk) if task else {}


def logs_of(*workers: QueueWorker) -> Callable[[], str]:
    return lambda: "\n".join(f"--- {worker.log_path}\n{worker.log_tail()}" for worker in workers)


def firing(rule_: AlertRule) -> AlertEvent | None:
    return AlertEvent.objects.filter(rule=rule_, state="firing").first()


def test_a_halted_stream_fires_the_lag_alert_within_15s_and_it_resolves_once_revived(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        source: Datasource, target: Datasource, workers: Callable[..., QueueWorker], receiver: Receiver,
        settings: Any) -> None:
    settings.DTS_LEASE_TTL_SECONDS = 3.0
    seed(mariadb, mysql_db, 500)
    alerts = workers(("default",))  # delivers the webhooks, and stays up
    engine = workers(("stream", "snapshot"))  # runs the task, and is killed
    diagnostics = logs_of(alerts, engine)
    task_id = create_task(personas, source, target, mysql_db)
    lag_rule = rule(personas, task_id, RuleKind.LAG, 3, webhook(personas, receiver))
    wait_for(lambda: phase(task_id) == "stream", 90, "streaming", diagnostics)
    evaluate_until(lambda: measured(task_id).get("state") == "caught_up", 30, "the stream to catch up", diagnostics)

    with SourceWriter(mariadb, mysql_db, 10_000) as writer:
        for _ in range(3):  # a healthy stream under writes: nothing fires
            evaluate_once()
            time.sleep(1)
        assert not AlertEvent.objects.filter(rule=lag_rule).exists(), measured(task_id)
        statements_before = writer.statements
        engine.kill()  # the runner dies; the task stays 'running' and the source keeps writing
        killed_at = time.monotonic()
        event = evaluate_until(lambda: firing(lag_rule), 15, "the lag alert to fire", diagnostics)
        fired_after = time.monotonic() - killed_at
        at_fire = measured(task_id)
        wait_for(lambda: receiver.requests, 20, "the firing webhook", diagnostics)
    assert writer.statements > statements_before  # the source really moved on while the stream was down
    assert fired_after < 15, fired_after
    assert SyncTask.objects.get(pk=task_id).status == "running"
    assert at_fire["caught_up"] is False and at_fire["lag_seconds"] > 3
    assert event.value is not None and event.value > 3
    fired = receiver.requests[0].json()
    assert fired["state"] == "firing" and fired["event_id"] == event.pk
    assert fired["task"] == {"id": task_id, "name": "orders-sync", "workspace": personas.workspace.name}
    assert fired["rule"]["kind"] == "lag" and fired["metric"] == "lag_seconds"
    assert fired["threshold"] == 3 and fired["value"] > fired["threshold"]
    # Nobody is applying: the runner's lease expires with the worker, so this is lag, not a stall.
    wait_for(lambda: not TaskLease.is_held(task_id), 10, "the dead runner's lease to expire")

    engine = workers(("stream", "snapshot"))
    diagnostics = logs_of(alerts, engine)
    revive(task_id, engine)  # what the supervisor does on beat: re-enqueue a task whose runner is gone
    evaluate_until(lambda: AlertEvent.objects.get(pk=event.pk).state == "resolved", 90,
                   "the lag alert to resolve", diagnostics)
    assert measured(task_id)["lag_seconds"] <= 3
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=diagnostics)
    evaluate_until(lambda: measured(task_id).get("state") == "caught_up", 15, "caught up again", diagnostics)
    wait_for(lambda: len(receiver.requests) >= 2, 20, "the resolved webhook", diagnostics)
    resolved = receiver.requests[1].json()
    assert resolved["state"] == "resolved" and resolved["event_id"] == event.pk
    assert resolved["task"]["name"] == "orders-sync" and resolved["metric"] == "lag_seconds"
    assert resolved["threshold"] == 3 and resolved["value"] > 3  # the value it last fired with
    assert resolved["resolved_at"] is not None and resolved["message"].startswith("Resolved: ")
    wait_for(lambda: AlertDelivery.objects.filter(event=event, status=DeliveryStatus.SENT).count() == 2, 10,
             "both deliveries to be recorded", diagnostics)
    # This event fired once and resolved once: no repeats. (While the writer goes on, a slow machine may
    # cross the 3 s threshold again later; that is a new event, not a repeat of this one.)
    this_event = [r.json()["state"] for r in receiver.requests if r.json().get("event_id") == event.pk]
    assert this_event == ["firing", "resolved"]


def test_an_idle_caught_up_task_shows_lag_0_and_nothing_fires(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, source: Datasource, target: Datasource,
        workers: Callable[..., QueueWorker], receiver: Receiver) -> None:
    seed(mariadb, mysql_db, 300)
    worker = workers()
    task_id = create_task(personas, source, target, mysql_db)
    channel = webhook(personas, receiver)
    # As strict as rules get: any lag at all, or a frozen position for 2 s while behind.
    rule(personas, task_id, RuleKind.LAG, 0, channel)
    rule(personas, task_id, RuleKind.STALLED, 2, channel)
    wait_for(lambda: phase(task_id) == "stream", 90, "streaming", worker.log_tail)
    client = personas.client(personas.viewer)

    def current() -> dict[str, Any]:
        response = client.get(f"/api/tasks/{task_id}/metrics/")
        assert response.status_code == 200, response.content
        return response.json()["current"] or {}

    evaluate_until(lambda: current().get("state") == "caught_up", 30, "the stream to catch up", worker.log_tail)
    started = time.monotonic()
    seen = 0
    while time.monotonic() - started < 10:
        evaluate_once()
        data = client.get(f"/api/tasks/{task_id}/metrics/").json()
        now = data["current"]
        assert now["lag_seconds"] == 0 and now["caught_up"] is True and now["state"] == "caught_up", now
        assert now["lease_held"] is True and now["position"] is not None and now["head"] is not None
        assert data["task"] == task_id and data["status"] == "running" and data["history"]
        seen += 1
        time.sleep(1)
    assert seen >= 8
    # The same payload as the monitor's own route.
    assert client.get(f"/api/task-metrics/{task_id}/").json() == client.get(f"/api/tasks/{task_id}/metrics/").json()
    assert personas.client(personas.outsider).get(f"/api/tasks/{task_id}/metrics/").status_code == 404
    time.sleep(1)  # give the worker time to send anything that should not be sent
    assert not AlertEvent.objects.exists() and receiver.requests == []


def test_a_runner_that_holds_its_lease_but_cannot_apply_is_detected_as_stalled(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, postgres: PostgresServer, pg_db: str,
        source: Datasource, workers: Callable[..., QueueWorker], receiver: Receiver) -> None:
    # Not a killed target: the engine takes a refused connection for a configuration error and fails the
    # task at once (no retries, no lease). A target that accepts connections but cannot take the writes
    # (a lock held by someone else) is the stall to detect: every batch times out after 2 s, the runner
    # retries with backoff and keeps its lease, and its position cannot move past the batch.
    seed(mariadb, mysql_db, 300)
    target = Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                       host=postgres.host, port=postgres.port, user="postgres",
                                       password="postgres", database=pg_db, options={"query_timeout": 2})
    worker = workers()
    task_id = create_task(personas, source, target, mysql_db)
    stalled_rule = rule(personas, task_id, RuleKind.STALLED, 5, webhook(personas, receiver))
    wait_for(lambda: phase(task_id) == "stream", 90, "streaming", worker.log_tail)
    evaluate_until(lambda: measured(task_id).get("state") == "caught_up", 30, "the stream to catch up",
                   worker.log_tail)

    blocker = postgres.connect(pg_db)
    blocker.execute("BEGIN")
    blocker.execute(f'LOCK TABLE "{mysql_db}".orders IN ACCESS EXCLUSIVE MODE')  # held until rollback
    try:
        with SourceWriter(mariadb, mysql_db, 10_000):
            event = evaluate_until(lambda: firing(stalled_rule), 40, "the stalled alert to fire", worker.log_tail)
            at_fire = measured(task_id)
            wait_for(lambda: receiver.requests, 20, "the firing webhook", worker.log_tail)
            wait_for(lambda: SyncTask.objects.get(pk=task_id).logs.filter(
                level="warning", message__contains="retrying").exists(), 20, "a retry", worker.log_tail)
            evaluate_once()  # after a retry, still where it was, and frozen for longer
            after_retry = measured(task_id)
            assert after_retry["position"] == at_fire["position"] and after_retry["lease_held"] is True
            assert after_retry["frozen_behind_seconds"] > at_fire["frozen_behind_seconds"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert at_fire["lease_held"] is True and at_fire["caught_up"] is False
    assert at_fire["frozen_behind_seconds"] >= 5 and at_fire["head"] != at_fire["position"]
    assert SyncTask.objects.get(pk=task_id).status == "running"
    fired = receiver.requests[0].json()
    assert fired["state"] == "firing" and fired["rule"]["kind"] == "stalled" and fired["event_id"] == event.pk
    assert fired["metric"] == "frozen_behind_seconds" and fired["task"]["name"] == "orders-sync"
    assert fired["threshold"] == 5 and fired["value"] >= 5
    assert "holds its lease" in fired["message"]

    # The lock goes away: the next retry gets through, the position moves and the alert resolves.
    evaluate_until(lambda: AlertEvent.objects.get(pk=event.pk).state == "resolved", 90,
                   "the stalled alert to resolve", worker.log_tail)
    assert measured(task_id)["position"] != at_fire["position"]
    assert_converges(mariadb, mysql_db, postgres, pg_db, diagnostics=worker.log_tail)
    wait_for(lambda: len(receiver.requests) >= 2, 20, "the resolved webhook", worker.log_tail)
    resolved = receiver.requests[1].json()
    assert resolved["state"] == "resolved" and resolved["event_id"] == event.pk
    assert SyncTask.objects.get(pk=task_id).status == "running"


def test_a_member_watching_the_task_receives_the_runners_progress_and_an_outsider_is_refused(
        personas: Personas, mariadb: MariaDBServer, mysql_db: str, source: Datasource, target: Datasource,
        workers: Callable[..., QueueWorker]) -> None:
    seed(mariadb, mysql_db, 3000)
    worker = workers()
    operator = personas.client(personas.operator)
    response = operator.post("/api/tasks/", {
        "workspace": personas.workspace.pk, "name": "orders-sync", "source": source.pk, "target": target.pk,
        "mode": "full+incremental", "tables": [f"{mysql_db}.orders"],
        "options": {"chunk_size": 500, "batch_size": 200, "parallelism": 2, "rate_limit_rows": 1000}},
        format="json")
    assert response.status_code == 201, response.content
    task_id = response.json()["id"]
    _, viewer_key = ApiToken.issue(personas.viewer, "ws")
    _, outsider_key = ApiToken.issue(personas.outsider, "ws")
    writer = SourceWriter(mariadb, mysql_db, 10_000)
    received: list[dict[str, Any]] = []

    def connect(key: str) -> WebsocketCommunicator:
        return WebsocketCommunicator(application, f"/ws/tasks/{task_id}/", subprotocols=[f"bearer.{key}"],
                                     headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])

    def start() -> None:
        assert operator.post(f"/api/tasks/{task_id}/start/").status_code == 202
        writer.thread.start()  # changes during the snapshot, applied by the stream after it

    def applied_seen() -> bool:
        return any(m["type"] == "task_live" and m["phase"] == "stream" and m["rows_applied"] > 0
                   and m["events_per_second"] is not None for m in received)

    async def scenario() -> None:
        outsider = connect(outsider_key)
        connected, code = await outsider.connect(timeout=5)
        assert not connected and code == 4404

        communicator = connect(viewer_key)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "task_metrics" and first["task"] == task_id and first["status"] == "new"
        await sync_to_async(start)()
        deadline = time.monotonic() + 90
        while not applied_seen():
            assert time.monotonic() < deadline, f"no applied updates; {len(received)} messages\n{worker.log_tail()}"
            try:
                received.append(await communicator.receive_json_from(timeout=5))
            except TimeoutError:
                continue
        await communicator.disconnect()

    try:
        async_to_sync(scenario)()
    finally:
        writer.stop.set()
        if writer.thread.is_alive():
            writer.thread.join()

    live = [m for m in received if m["type"] == "task_live"]
    assert live and all(m["task"] == task_id for m in live)
    phases = [m["phase"] for m in live if "phase" in m["changed"]]
    assert phases[:1] == ["schema"] and "snapshot" in phases and phases[-1] == "stream", phases
    # Snapshot progress, chunk by chunk, up to the finished table.
    tables = [t for m in live for t in m["tables"]]
    assert {t["table"] for t in tables} == {f"{mysql_db}.orders"}
    assert any(0 < t["chunks_done"] < t["chunks_total"] and t["rows_done"] > 0 for t in tables), tables
    assert tables[-1]["finished"] and tables[-1]["chunks_done"] == tables[-1]["chunks_total"] >= 6, tables
    assert tables[-1]["rows_done"] >= 2500  # 3000 seeded, less what the writer deleted before its chunk was read
    # Applied batches: counters that only grow, the binlog position, rates.
    applied = [m for m in live if "applied" in m["changed"]]
    counts = [m["rows_applied"] for m in applied]
    assert counts == sorted(counts) and counts[-1] > 0 and applied[-1]["events_applied"] > 0
    assert {"file", "pos"} <= set(applied[-1]["position"]) and applied[-1]["last_commit_time"] is not None
    assert applied[-1]["rows_per_second"] is not None and applied[-1]["rows_per_second"] >= 0
    # Log lines come along ("phase: ..." at least).
    assert any(line["message"] == "phase: stream" for m in live for line in m["logs"])
    # At most a few a second: pushes are at least 0.3 s apart unless a phase change went at once.
    for before, after in itertools.pairwise(live):
        if "phase" not in after["changed"]:
            assert after["at"] - before["at"] >= 0.28, (before, after)
