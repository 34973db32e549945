"""Alert channels, rules, events, deliveries and task metrics through the API: roles, outsiders,
write-only secrets that never reach a response or the audit log, and the test action."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from django.db import connection
from django.utils import timezone

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, RuleKind
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import Receiver, make_task, set_metrics

pytestmark = pytest.mark.django_db
SECRET = "whsec-Very-Secret-42"


@pytest.fixture
def task(personas: Personas, target: Datasource) -> SyncTask:
    source = Datasource.objects.create(workspace=personas.workspace, name="pg-src", engine="postgresql",
                                       host="127.0.0.1", port=5432)
    return make_task(personas, source, target)


def create_channel(client: Any, personas: Personas, **fields: Any) -> dict[str, Any]:
    body = {"workspace": personas.workspace.pk, "name": "ops", "kind": "webhook",
            "url": "http://127.0.0.1:9/hook", "secret": SECRET} | fields
    response = client.post("/api/alert-channels/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_secret_is_write_only_encrypted_and_never_audited(personas: Personas) -> None:
    client = personas.client(personas.operator)
    created = create_channel(client, personas)
    assert created["secret"] == "********"
    assert client.get(f"/api/alert-channels/{created['id']}/").json()["secret"] == "********"
    listed = client.get("/api/alert-channels/")
    assert SECRET not in listed.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM monitor_alertchannel WHERE id = %s", [created["id"]])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("gAAAA")
    assert AlertChannel.objects.get(pk=created["id"]).secret == SECRET

    # The mask sent back keeps the secret; a new value replaces it, and neither reaches the audit log.
    client.patch(f"/api/alert-channels/{created['id']}/", {"secret": "********", "name": "ops2"}, format="json")
    assert AlertChannel.objects.get(pk=created["id"]).secret == SECRET
    response = client.patch(f"/api/alert-channels/{created['id']}/", {"secret": "rotated-Secret-99"}, format="json")
    assert "rotated-Secret-99" not in response.content.decode()
    assert AlertChannel.objects.get(pk=created["id"]).secret == "rotated-Secret-99"
    entries = AuditLog.objects.filter(object_type="monitor.alertchannel")
    assert entries.count() == 3
    dumped = json.dumps(list(entries.values("changes")))
    assert SECRET not in dumped and "rotated-Secret-99" not in dumped
    assert entries.filter(action="update").first().changes["secret"] == ["********", "********"]


def test_channels_are_validated_by_kind(personas: Personas) -> None:
    client = personas.client(personas.operator)
    bad_url = client.post("/api/alert-channels/", {"workspace": personas.workspace.pk, "name": "x", "kind": "slack",
                                                   "url": "file:///etc/passwd"}, format="json")
    assert bad_url.status_code == 400 and "url" in bad_url.json()
    no_recipients = client.post("/api/alert-channels/", {"workspace": personas.workspace.pk, "name": "mail",
                                                         "kind": "email", "options": {}}, format="json")
    assert no_recipients.status_code == 400 and "options" in no_recipients.json()
    bad_type = client.post("/api/alert-channels/", {"workspace": personas.workspace.pk, "name": "lark",
                                                    "kind": "feishu", "url": "https://open.feishu.cn/x",
                                                    "options": {"msg_type": "video"}}, format="json")
    assert bad_type.status_code == 400 and "options" in bad_type.json()
    create_channel(client, personas, name="mail", kind="email", url="", options={"recipients": ["ops@example.com"]})


def test_the_test_action_delivers_now_and_answers_the_outcome(personas: Personas, receiver: Receiver) -> None:
    client = personas.client(personas.operator)
    created = create_channel(client, personas, url=receiver.url)
    response = client.post(f"/api/alert-channels/{created['id']}/test/")
    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["status"] == "sent" and outcome["http_status"] == 200 and outcome["notice"] == "test"
    (request,) = receiver.wait_for(1)
    assert request.json()["state"] == "test" and "x-dts-signature" in request.headers
    assert SECRET not in request.body.decode()
    assert AuditLog.objects.filter(action="test", object_type="monitor.alertchannel").exists()


def test_the_test_action_reports_a_failure(personas: Personas, receivers: Any) -> None:
    receiver = receivers(status=500, answer=b"nope")
    client = personas.client(personas.operator)
    created = create_channel(client, personas, url=receiver.url)
    outcome = client.post(f"/api/alert-channels/{created['id']}/test/").json()
    assert outcome["status"] == "failed" and outcome["http_status"] == 500 and "HTTP 500" in outcome["error"]


def test_the_viewer_reads_but_cannot_create_or_test(personas: Personas) -> None:
    created = create_channel(personas.client(personas.operator), personas)
    viewer = personas.client(personas.viewer)
    assert viewer.get(f"/api/alert-channels/{created['id']}/").status_code == 200
    assert viewer.post("/api/alert-channels/", {"workspace": personas.workspace.pk, "name": "v", "kind": "webhook",
                                                "url": "http://127.0.0.1:9/"}, format="json").status_code == 403
    assert viewer.post(f"/api/alert-channels/{created['id']}/test/").status_code == 403
    assert viewer.post("/api/alert-rules/", {"workspace": personas.workspace.pk, "name": "r",
                                             "kind": "task_failed"}, format="json").status_code == 403


def test_the_outsider_gets_404_everywhere(personas: Personas, task: SyncTask) -> None:
    channel = AlertChannel.objects.create(workspace=personas.workspace, name="ops", kind="webhook",
                                          url="http://127.0.0.1:9/")
    rule = AlertRule.objects.create(workspace=personas.workspace, name="failed", kind=RuleKind.TASK_FAILED)
    event = AlertEvent.objects.create(rule=rule, task=task, message="x")
    delivery = AlertDelivery.objects.create(channel=channel, event=event, notice="firing", status="sent")
    outsider = personas.client(personas.outsider)
    for path in (f"alert-channels/{channel.pk}/", f"alert-rules/{rule.pk}/", f"alert-events/{event.pk}/",
                 f"alert-deliveries/{delivery.pk}/", f"task-metrics/{task.pk}/"):
        assert outsider.get(f"/api/{path}").status_code == 404, path
    assert outsider.post(f"/api/alert-channels/{channel.pk}/test/").status_code == 404
    assert outsider.patch(f"/api/alert-rules/{rule.pk}/", {"enabled": False}, format="json").status_code == 404
    for listing in ("alert-channels", "alert-rules", "alert-events", "alert-deliveries", "task-metrics"):
        assert outsider.get(f"/api/{listing}/").json()["count"] == 0, listing
    # Nor can the outsider point a rule of their own at this workspace's tasks or channels.
    response = outsider.post("/api/alert-rules/", {"workspace": personas.other_workspace.pk, "name": "spy",
                                                   "kind": "lag", "threshold": 5, "task": task.pk,
                                                   "channels": [channel.pk]}, format="json")
    assert response.status_code == 400 and {"task", "channels"} <= set(response.json())


def test_rules_are_validated(personas: Personas, task: SyncTask) -> None:
    client = personas.client(personas.operator)
    base = {"workspace": personas.workspace.pk, "task": task.pk}
    assert "threshold" in client.post("/api/alert-rules/", base | {"name": "lag", "kind": "lag"},
                                      format="json").json()
    stalled = client.post("/api/alert-rules/", base | {"name": "stalled", "kind": "stalled"}, format="json")
    assert stalled.status_code == 201 and stalled.json()["threshold"] == 60
    diff = client.post("/api/alert-rules/", base | {"name": "diffs", "kind": "compare_diff"}, format="json")
    assert diff.status_code == 201
    foreign_channel = AlertChannel.objects.create(workspace=personas.other_workspace, name="theirs",
                                                  kind="webhook", url="http://127.0.0.1:9/")
    response = client.post("/api/alert-rules/", base | {"name": "x", "kind": "task_failed",
                                                        "channels": [foreign_channel.pk]}, format="json")
    assert response.status_code == 400 and "channels" in response.json()


def test_events_are_read_only_and_filterable(personas: Personas, task: SyncTask) -> None:
    rule = AlertRule.objects.create(workspace=personas.workspace, name="failed", kind=RuleKind.TASK_FAILED)
    other = AlertRule.objects.create(workspace=personas.workspace, name="lag", kind=RuleKind.LAG, threshold=5)
    AlertEvent.objects.create(rule=rule, task=task, message="open")
    AlertEvent.objects.create(rule=other, task=task, message="closed", state="resolved", resolved_at=timezone.now())
    viewer = personas.client(personas.viewer)
    firing = viewer.get("/api/alert-events/?state=firing").json()
    assert [e["message"] for e in firing["results"]] == ["open"]
    assert firing["results"][0]["rule_name"] == "failed" and firing["results"][0]["task_name"] == task.name
    assert viewer.get(f"/api/alert-events/?rule={other.pk}").json()["count"] == 1
    assert viewer.get(f"/api/alert-events/?task={task.pk}").json()["count"] == 2
    operator = personas.client(personas.operator)
    assert operator.post("/api/alert-events/", {}, format="json").status_code == 405


def test_task_metrics_answer_the_current_measurement_and_the_history(
        personas: Personas, task: SyncTask, client_redis: redis.Redis) -> None:
    now = time.time()
    set_metrics(client_redis, task, position={"lsn": "0/1"}, last_commit_time=now - 12, events=10, rows=20)
    DelayMonitor().run_once(now)
    set_metrics(client_redis, task, position={"lsn": "0/2"}, last_commit_time=now, events=60, rows=120)
    DelayMonitor().run_once(now + 10)
    viewer = personas.client(personas.viewer)
    data = viewer.get(f"/api/task-metrics/{task.pk}/").json()
    assert data["task"] == task.pk and data["resolution_seconds"] == 10
    current = data["current"]
    assert current["events_per_second"] == 5 and current["rows_per_second"] == 10
    assert "position_key" not in current
    assert [round(point["lag"]) for point in data["history"]] == [12, 10]
    listed = viewer.get("/api/task-metrics/").json()
    assert listed["results"][0]["current"]["events_applied"] == 60
