"""Celery jobs for datasources: each takes ids and makes one call into a runner."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from dts.datasources.models import DatasourceJob
from dts.datasources.runner import DatasourceJobRunner

JOB_RETENTION = timedelta(days=7)


@shared_task(name="dts.datasources.jobs.run_datasource_job", ignore_result=True)
def run_datasource_job(job_id: int) -> None:
    DatasourceJobRunner(job_id).run()


@shared_task(name="dts.datasources.jobs.purge_old_jobs", ignore_result=True)
def purge_old_jobs() -> int:
    """Keep a week of check and discovery history, and always each datasource's latest of each kind."""
    cutoff = timezone.now() - JOB_RETENTION
    old = DatasourceJob.objects.filter(created_at__lt=cutoff)
    keep = set()
    for datasource_id, kind in old.values_list("datasource_id", "kind").distinct():
        latest = DatasourceJob.objects.filter(datasource_id=datasource_id, kind=kind).values_list("pk", flat=True)[:1]
        keep.update(latest)
    deleted, _ = old.exclude(pk__in=keep).delete()
    return deleted
