"""Celery jobs for sync tasks. Each takes ids and makes one call into a runner."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from connectors.errors import ConnectorError
from connectors.spec import TaskSpec
from dts.sync.chunk_runner import ChunkRunner
from dts.sync.lease import TaskLease, redis_client
from dts.sync.models import Mode, Status, SyncTask
from dts.sync.prechecks import PrecheckRunner, task_report
from dts.sync.runner import SyncRunner
from dts.sync.specs import SLOT_PREFIX, spec_json

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


# The slot a PostgreSQL source is checked with before its task (and so its dts_task_<id> name) exists.
UNSAVED_SLOT = f"{SLOT_PREFIX}new"


def unsaved_spec(task: SyncTask) -> TaskSpec:
    """spec_for() of a task not saved yet: passwords joined in on the worker, a placeholder slot name."""
    data = spec_json(task, with_passwords=True)
    if task.source.engine == "postgresql" and not data["source"].get("options", {}).get("slot_name"):
        data["source"]["options"] = {**(data["source"].get("options") or {}), "slot_name": UNSAVED_SLOT}
    return TaskSpec.from_json(data)


@shared_task(name="dts.sync.jobs.run_unsaved_precheck")
def run_unsaved_precheck(body: dict[str, Any]) -> dict[str, Any]:
    """The pre-check of a task not created yet (the wizard's step before Create). The body names the
    datasources by id: credentials never enter the broker.

    There is no row to store it in, so the report is this job's Celery result (kept CELERY_RESULT_EXPIRES):
    {"status": "succeeded"|"failed", "result": report or None, "error": text}."""
    task = SyncTask(name=body.get("name") or "precheck", source_id=body["source"], target_id=body["target"],
                    mode=body["mode"], tables=body.get("tables") or [], options=body.get("options") or {},
                    mapping=body.get("mapping") or {})
    try:
        report = task_report(unsaved_spec(task))
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
