"""Celery jobs for compares (queue 'compare'). Each takes ids and makes one call into the runner."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from celery.schedules import crontab
from django.db import transaction

from dts.compare import runner
from dts.compare.models import CompareRun, CompareTask, RunStatus

log = logging.getLogger("dts.compare")


@shared_task(name="dts.compare.jobs.start_run", ignore_result=True, acks_late=True)
def start_run(run_id: int) -> None:
    runner.plan_run(run_id)


@shared_task(name="dts.compare.jobs.compare_chunk", ignore_result=True, acks_late=True)
def compare_chunk(chunk_id: int) -> None:
    runner.run_chunk(chunk_id)


@shared_task(name="dts.compare.jobs.finish_run", ignore_result=True, acks_late=True)
def finish_run(run_id: int) -> None:
    runner.finish_run(run_id)


@shared_task(name="dts.compare.jobs.run_repair", ignore_result=True, acks_late=True)
def run_repair(repair_id: int) -> None:
    runner.run_repair(repair_id)


def enqueue_run(task: CompareTask, *, triggered_by: str = "manual") -> CompareRun:
    """A queued run of the task; its planning job is sent when the transaction commits."""
    run = CompareRun.objects.create(compare_task=task, triggered_by=triggered_by,
                                    seed=int(datetime.now(UTC).timestamp()) % 2**31)
    transaction.on_commit(lambda: start_run.apply_async(args=[run.pk], queue="compare"))
    return run


def cron_schedule(text: str) -> crontab:
    """'m h dom mon dow' -> Celery's crontab (raises ValueError naming what is wrong)."""
    parts = text.split()
    if len(parts) != 5:
        raise ValueError("a schedule is 5 fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'")
    minute, hour, day_of_month, month, day_of_week = parts
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month,
                   day_of_week=day_of_week)


def due(task: CompareTask, now: datetime) -> bool:
    """Whether the task's schedule has a moment in (its last scheduled run, now]; never twice a minute."""
    schedule = cron_schedule(task.schedule or "")
    last = task.runs.filter(triggered_by="schedule").order_by("-created_at").first()
    since = last.created_at if last is not None else now - timedelta(minutes=1)
    remaining = schedule.remaining_estimate(since)
    return since + remaining <= now and (last is None or now - last.created_at >= timedelta(seconds=60))


@shared_task(name="dts.compare.jobs.start_scheduled", ignore_result=True)
def start_scheduled() -> int:
    """Beat, every minute: start the compares whose cron schedule is due; requeue orphaned chunks and
    the end of runs whose finishing worker died."""
    now = datetime.now(UTC)
    started = 0
    for task in CompareTask.objects.exclude(schedule__isnull=True).exclude(schedule=""):
        try:
            if not due(task, now):
                continue
        except ValueError as exc:
            log.warning("compare task %s: bad schedule %r: %s", task.pk, task.schedule, exc)
            continue
        if task.runs.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            continue  # the previous run is still going
        with transaction.atomic():
            enqueue_run(task, triggered_by="schedule")
        started += 1
    for run in CompareRun.objects.filter(status=RunStatus.RUNNING):
        runner.recover_orphans(run)
        runner.recover_finish(run)
    return started
