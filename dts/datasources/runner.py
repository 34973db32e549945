"""Runs a DatasourceJob: calls the data plane's check() or discover() and stores the result."""

from __future__ import annotations

import logging

from connectors.errors import ConnectorError
from connectors.registry import connector_for
from dts.datasources.models import DatasourceJob

log = logging.getLogger(__name__)


class DatasourceJobRunner:
    def __init__(self, job_id: int) -> None:
        self.job = DatasourceJob.objects.select_related("datasource").get(pk=job_id)

    def run(self) -> None:
        job = self.job
        if job.done:
            return  # redelivered after it already finished
        job.mark_running()
        try:
            connector = connector_for(job.datasource.connection_config())
            if job.kind == DatasourceJob.Kind.CHECK:
                result = connector.check().to_dict()
            else:
                result = connector.discover().to_dict()
        except ConnectorError as exc:
            log.info("%s failed: %s", job, exc)
            job.finish(None, str(exc))
            return
        except Exception as exc:
            log.exception("%s crashed", job)
            job.finish(None, f"unexpected error: {type(exc).__name__}: {exc}")
            raise
        job.finish(result)
