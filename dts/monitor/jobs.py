"""Celery jobs of the monitor. Each takes ids (or nothing) and makes one call."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from dts.monitor import delivery
from dts.monitor.delay_monitor import DelayMonitor
from dts.monitor.models import AlertDelivery, AlertEvent, EventState

DELIVERIES_KEPT_DAYS = 30
RESOLVED_EVENTS_KEPT_DAYS = 90


@shared_task(name="dts.monitor.jobs.evaluate", ignore_result=True)
def evaluate() -> int:
    return DelayMonitor().run_exclusive()


# Exponential backoff (about 1, 2, 4, 8, 16 s with jitter) and then give up: the attempts are recorded.
@shared_task(bind=True, name="dts.monitor.jobs.deliver_alert", ignore_result=True, acks_late=True,
             autoretry_for=(delivery.RetryDelivery,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
             max_retries=5)
def deliver_alert(self: Task, event_id: int, channel_id: int, notice: str) -> None:
    retries = self.request.retries
    delivery.attempt(event_id, channel_id, notice, number=retries + 1, last=retries >= (self.max_retries or 0))


@shared_task(name="dts.monitor.jobs.purge_old_alerts", ignore_result=True)
def purge_old_alerts() -> int:
    now = timezone.now()
    deleted, _ = AlertDelivery.objects.filter(at__lt=now - timedelta(days=DELIVERIES_KEPT_DAYS)).delete()
    events, _ = AlertEvent.objects.filter(state=EventState.RESOLVED,
                                          resolved_at__lt=now - timedelta(days=RESOLVED_EVENTS_KEPT_DAYS)).delete()
    return deleted + events
