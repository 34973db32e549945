"""Each channel kind sends a readable message in its vendor's format to a real local HTTP server;
signatures are recomputed here from the secret and compared."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from dts.datasources.models import Datasource
from dts.monitor import delivery
from dts.monitor.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    DeliveryStatus,
    Notice,
    RuleKind,
    Severity,
)
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas
from tests.dts.monitor.conftest import Receiver, make_task

pytestmark = pytest.mark.django_db
SECRET = "SEC-0123456789abcdef"


@pytest.fixture
def event(personas: Personas, target: Datasource, settings: Any) -> AlertEvent:
    settings.DTS_PUBLIC_URL = "https://dts.example.com"
    source = Datasource.objects.create(workspace=personas.workspace, name="src", engine="mysql", host="127.0.0.1",
                                       port=3306)
    task: SyncTask = make_task(personas, source, target, name="orders-sync")
    rule = AlertRule.objects.create(workspace=personas.workspace, task=task, name="lag over 5s", kind=RuleKind.LAG,
                                    severity=Severity.CRITICAL, threshold=5)
    return AlertEvent.objects.create(rule=rule, task=task, value=31.0, message="Lag is 31s (threshold 5s).",
                                     fired_at=timezone.now())


def channel(personas: Personas, kind: str, url: str = "", secret: str = "", **options: Any) -> AlertChannel:
    return AlertChannel.objects.create(workspace=personas.workspace, name=f"{kind}-{time.monotonic_ns()}", kind=kind,
                                       url=url, secret=secret, options=options)


def send(event: AlertEvent, target: AlertChannel, notice: str = Notice.FIRING) -> AlertDelivery:
    result = delivery.attempt(event.pk, target.pk, notice, number=1, last=True)
    assert result is not None
    return result


def assert_readable(text: str, event: AlertEvent) -> None:
    for expected in ("orders-sync", "lag over 5s", "lag_seconds", "31", "5", "critical", "firing",
                     f"https://dts.example.com/tasks/{event.task_id}"):
        assert expected in text, f"{expected!r} missing from {text!r}"


def test_the_generic_webhook_is_signed_over_the_raw_body(personas: Personas, event: AlertEvent,
                                                         receiver: Receiver) -> None:
    before = int(time.time())
    result = send(event, channel(personas, "webhook", receiver.url, SECRET))
    assert result.status == DeliveryStatus.SENT and result.http_status == 200
    (request,) = receiver.wait_for(1)
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-dts-signature"] == expected
    assert before <= int(request.headers["x-dts-timestamp"]) <= time.time() + 1
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    assert body["state"] == "firing" and body["severity"] == "critical"
    assert body["task"] == {"id": event.task_id, "name": "orders-sync", "workspace": "acme"}
    assert body["rule"]["kind"] == "lag" and body["metric"] == "lag_seconds"
    assert body["value"] == 31.0 and body["threshold"] == 5.0
    assert body["url"] == f"https://dts.example.com/tasks/{event.task_id}"
    assert_readable(body["text"], event)


def test_an_unsigned_webhook_carries_no_signature(personas: Personas, event: AlertEvent, receiver: Receiver) -> None:
    send(event, channel(personas, "webhook", receiver.url))
    (request,) = receiver.wait_for(1)
    assert "x-dts-signature" not in request.headers and "x-dts-timestamp" in request.headers


def test_feishu_gets_a_signed_interactive_card(personas: Personas, event: AlertEvent, receivers: Any) -> None:
    receiver = receivers(answer=b'{"code":0,"msg":"success","data":{}}')
    assert send(event, channel(personas, "feishu", receiver.url, SECRET)).status == DeliveryStatus.SENT
    body = receiver.wait_for(1)[0].json()
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 60  # seconds, not milliseconds
    key = f"{timestamp}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["template"] == "red"
    assert "lag over 5s" in card["header"]["title"]["content"]
    assert_readable(card["header"]["title"]["content"] + str(card["elements"]), event)


def test_feishu_text_messages_and_refusals_in_a_200_answer(personas: Personas, event: AlertEvent,
                                                            receivers: Any) -> None:
    receiver = receivers(answer=b'{"code":19021,"msg":"sign match fail","data":{}}')
    result = send(event, channel(personas, "feishu", receiver.url, SECRET, msg_type="text"))
    body = receiver.wait_for(1)[0].json()
    assert body["msg_type"] == "text"
    assert_readable(body["content"]["text"], event)
    # The robot answered 200 but refused: that is a failed delivery, recorded with the reason.
    assert result.status == DeliveryStatus.FAILED and result.http_status == 200
    assert "19021" in result.error and "sign match fail" in result.error


def test_dingtalk_is_signed_in_the_query_and_gets_markdown(personas: Personas, event: AlertEvent,
                                                           receivers: Any) -> None:
    receiver = receivers(answer=b'{"errcode":0,"errmsg":"ok"}')
    url = receiver.url + "?access_token=robot-token"
    assert send(event, channel(personas, "dingtalk", url, SECRET)).status == DeliveryStatus.SENT
    request = receiver.wait_for(1)[0]
    assert request.query["access_token"] == ["robot-token"]
    timestamp = request.query["timestamp"][0]
    assert abs(int(timestamp) / 1000 - time.time()) < 60  # milliseconds
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    # parse_qs undid the URL-encoding: what is left must be the base64 signature.
    assert request.query["sign"] == [base64.b64encode(digest).decode()]
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert "lag over 5s" in body["markdown"]["title"]
    assert_readable(body["markdown"]["text"], event)


def test_wecom_gets_markdown(personas: Personas, event: AlertEvent, receivers: Any) -> None:
    receiver = receivers(answer=b'{"errcode":0,"errmsg":"ok"}')
    assert send(event, channel(personas, "wecom", receiver.url + "?key=abc")).status == DeliveryStatus.SENT
    body = receiver.wait_for(1)[0].json()
    assert body["msgtype"] == "markdown"
    assert_readable(body["markdown"]["content"], event)


def test_slack_gets_text_and_blocks(personas: Personas, event: AlertEvent, receivers: Any) -> None:
    receiver = receivers(answer=b"ok")
    assert send(event, channel(personas, "slack", receiver.url)).status == DeliveryStatus.SENT
    body = receiver.wait_for(1)[0].json()
    assert_readable(body["text"], event)
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "actions"
    assert body["blocks"][-1]["elements"][0]["url"] == f"https://dts.example.com/tasks/{event.task_id}"


def test_email_goes_through_the_django_backend(personas: Personas, event: AlertEvent, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    result = send(event, channel(personas, "email", recipients=["ops@example.com", "dba@example.com"]))
    assert result.status == DeliveryStatus.SENT and result.http_status is None
    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "dba@example.com"]
    assert "lag over 5s" in message.subject and "FIRING" in message.subject
    assert_readable(message.body, event)


def test_the_resolved_message_says_resolved(personas: Personas, event: AlertEvent, receiver: Receiver) -> None:
    event.resolve(timezone.now())
    send(event, channel(personas, "webhook", receiver.url), Notice.RESOLVED)
    body = receiver.wait_for(1)[0].json()
    assert body["state"] == "resolved" and body["resolved_at"] is not None
    assert "RESOLVED" in body["title"]


def test_a_server_error_is_recorded_as_retryable_unless_it_is_the_last_attempt(
        personas: Personas, event: AlertEvent, receivers: Any) -> None:
    receiver = receivers(status=500, answer=b"boom")
    target = channel(personas, "webhook", receiver.url, SECRET)
    with pytest.raises(delivery.RetryDelivery):
        delivery.attempt(event.pk, target.pk, Notice.FIRING, number=1, last=False)
    final = delivery.attempt(event.pk, target.pk, Notice.FIRING, number=2, last=True)
    assert final is not None
    statuses = list(AlertDelivery.objects.filter(channel=target).order_by("attempt")
                    .values_list("attempt", "status", "http_status"))
    assert statuses == [(1, "retrying", 500), (2, "failed", 500)]


def test_a_refused_request_is_not_retried(personas: Personas, event: AlertEvent, receivers: Any) -> None:
    receiver = receivers(status=404, answer=b"no such hook")
    result = delivery.attempt(event.pk, channel(personas, "webhook", receiver.url).pk, Notice.FIRING, number=1,
                              last=False)
    assert result is not None and result.status == DeliveryStatus.FAILED and result.http_status == 404


def test_an_unreachable_receiver_is_a_recorded_failure(personas: Personas, event: AlertEvent) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = send(event, channel(personas, "webhook", f"http://127.0.0.1:{port}/hook"))
    assert result.status == DeliveryStatus.FAILED and result.http_status is None
    assert "cannot reach" in result.error or "connection" in result.error.lower()
