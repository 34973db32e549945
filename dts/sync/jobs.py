"""Celery jobs for sync tasks. Each takes ids and makes one call into a runner."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from dts.sync.chunk_runner import ChunkRunner
from dts.sync.lease import TaskLease, redis_client
from connectors.base import CheckScope, CheckStatus
from connectors.errors import ConnectorError
from connectors.precheck import precheck
from connectors.registry import source_for
from connectors.transform.shards import shard_key_conflicts
from dts.sync.models import Mode, Status, SyncTask
from dts.sync.prechecks import PrecheckRunner, orphaned_slots
from dts.sync.specs import spec_for
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


# Fields of a task body the unsaved pre-check needs (datasources by id: credentials never enter the broker).
UNSAVED_FIELDS = ("name", "source", "target", "mode", "tables", "options", "mapping")


@shared_task(name="dts.sync.jobs.run_unsaved_precheck")
def run_unsaved_precheck(body: dict[str, Any]) -> dict[str, Any]:
    """The pre-check of a task not created yet (the wizard's step before Create).

    There is no row to store it in, so the report is this job's Celery result (kept CELERY_RESULT_EXPIRES):
    {"status": "succeeded"|"failed", "result": report or None, "error": text}."""
    task = SyncTask(name=body.get("name") or "precheck", source_id=body["source"], target_id=body["target"],
                    mode=body["mode"], tables=body.get("tables") or [], options=body.get("options") or {},
                    mapping=body.get("mapping") or {})
    try:
        spec = spec_for(task)  # joins in the passwords on the worker, as a saved task's pre-check does
        report = precheck(spec)
        if report.status_for(CheckScope.CONNECTION) != CheckStatus.FAILED:
            report.items.extend(shard_key_conflicts(spec, source_for))
        orphans = orphaned_slots(spec.source)
        if orphans is not None:
            report.items.append(orphans)
    except ConnectorError as exc:
        return {"status": "failed", "result": None, "error": str(exc)}
    except Exception as exc:
        log.exception("pre-check of unsaved task %r crashed", task.name)
        return {"status": "failed", "result": None, "error": f"unexpected error: {type(exc).__name__}: {exc}"}
    return {"status": "succeeded", "result": report.to_dict(), "error": ""}


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
