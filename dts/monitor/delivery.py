"""Sending one message to one channel and recording the attempt, whatever happens.

The Celery job (jobs.deliver_alert) calls `attempt` and lets Celery retry a RetryDelivery with
exponential backoff; the 'test' action calls `send_test` synchronously.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from dts.monitor import conf, message
from dts.monitor.channels import channel_for
from dts.monitor.errors import DeliveryError
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, DeliveryStatus, Notice

log = logging.getLogger("dts.monitor")
ERROR_TEXT_LIMIT = 2000


class RetryDelivery(Exception):
    """Raised to Celery so it schedules the next attempt; the failure is already recorded."""


def attempt(event_id: int, channel_id: int, notice: str, number: int, last: bool) -> AlertDelivery | None:
    """Attempt number `number`; `last` means no retry follows whatever happens."""
    channel = AlertChannel.objects.select_related("workspace").filter(pk=channel_id).first()
    event = AlertEvent.objects.select_related("rule", "task__workspace").filter(pk=event_id).first()
    if channel is None or event is None:
        log.info("alert delivery skipped: channel %s or event %s was deleted", channel_id, event_id)
        return None
    if not channel.enabled:
        log.info("alert delivery skipped: channel %s (%s) is disabled", channel.pk, channel.name)
        return None
    delivery = _send(channel, event, message.for_event(event, notice), notice, number, last,
                     conf.delivery_timeout_seconds())
    if delivery.status == DeliveryStatus.RETRYING:
        raise RetryDelivery(delivery.error)
    return delivery


def send_test(channel: AlertChannel) -> AlertDelivery:
    """Deliver a test message now, once, with a short timeout; the outcome is recorded and returned."""
    return _send(channel, None, message.for_test(channel), Notice.TEST, 1, True,
                 conf.quick_delivery_timeout_seconds())


def _send(channel: AlertChannel, event: AlertEvent | None, alert: message.AlertMessage, notice: str, number: int,
          last: bool, timeout: float) -> AlertDelivery:
    record = AlertDelivery(channel=channel, event=event, notice=notice, attempt=number)
    try:
        record.http_status = channel_for(channel).send(alert, timeout)
        record.status = DeliveryStatus.SENT
    except DeliveryError as exc:
        record.http_status = exc.http_status
        record.error = _redacted(str(exc), channel)[:ERROR_TEXT_LIMIT]
        record.status = DeliveryStatus.RETRYING if exc.retryable and not last else DeliveryStatus.FAILED
        log.warning("alert %s to channel %s (%s), attempt %s: %s", notice, channel.pk, channel.name, number,
                    record.error)
    record.at = timezone.now()
    record.save()
    return record


def _redacted(text: str, channel: AlertChannel) -> str:
    # A receiver may echo what it got; never store the channel's secret in a delivery's error.
    secret = channel.secret or ""
    return text.replace(secret, "********") if len(secret) >= 4 else text
