"""Celery jobs for sync tasks. Each takes ids and makes one call into a runner."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from dts.sync.chunk_runner import ChunkRunner
from dts.sync.lease import TaskLease, redis_client
from dts.sync.models import Mode, Status, SyncTask
from dts.sync.prechecks import PrecheckRunner
from dts.sync.runner import SyncRunner

log = logging.getLogger("dts.sync")


@shared_task(name="dts.sync.jobs.run_sync_task", ignore_result=True, acks_late=True)
def run_sync_task(task_id: int) -> None:
    SyncRunner(task_id).run()


def enqueue(task: SyncTask) -> None:
    """Streams go to the 'stream' queue; one-off loads to 'snapshot'."""
    streaming = task.mode in (Mode.INCREMENTAL, Mode.FULL_INCREMENTAL)
    run_sync_task.apply_async(args=[task.pk], queue="stream" if streaming else "snapshot")


@shared_task(name="dts.sync.jobs.run_snapshot_chunk", ignore_result=True, acks_late=True)
def run_snapshot_chunk(chunk_id: int) -> None:
    ChunkRunner(chunk_id).run()


@shared_task(name="dts.sync.jobs.run_task_precheck", ignore_result=True)
def run_task_precheck(precheck_id: int) -> None:
    PrecheckRunner(precheck_id).run()


@shared_task(name="dts.sync.jobs.supervise", ignore_result=True)
def supervise() -> int:
    """Re-enqueue tasks that should be running but whose runner is gone (its lease expired)."""
    grace = timedelta(seconds=settings.DTS_LEASE_TTL_SECONDS * 2)
    stale_before = timezone.now() - grace
    client = redis_client()
    revived = 0
    candidates = SyncTask.objects.filter(desired_state="running", status__in=[Status.QUEUED, Status.RUNNING,
                                                                             Status.PAUSED],
                                         updated_at__lt=stale_before)
    for task in candidates:
        if TaskLease.is_held(task.pk, client):
            continue
        log.warning("task %s (%s): no live runner; re-enqueuing", task.pk, task.name)
        if task.status != Status.QUEUED:
            task.request_start(action="resume")
        else:
            SyncTask.objects.filter(pk=task.pk).update(updated_at=timezone.now())
        enqueue(task)
        revived += 1
    return revived
