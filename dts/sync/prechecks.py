"""Runs a task's pre-check on a worker: the data plane's precheck() of the task's spec."""

from __future__ import annotations

import logging

from connectors.errors import ConnectorError
from connectors.precheck import precheck
from dts.sync.models import TaskPrecheck
from dts.sync.specs import spec_for

log = logging.getLogger("dts.sync")


class PrecheckRunner:
    def __init__(self, precheck_id: int) -> None:
        self.precheck = TaskPrecheck.objects.select_related("task__source", "task__target").get(pk=precheck_id)

    def run(self) -> None:
        check = self.precheck
        if check.done:
            return
        TaskPrecheck.objects.filter(pk=check.pk).update(status="running")
        try:
            report = precheck(spec_for(check.task))
        except ConnectorError as exc:
            check.finish(None, str(exc))
            return
        except Exception as exc:
            log.exception("%s crashed", check)
            check.finish(None, f"unexpected error: {type(exc).__name__}: {exc}")
            raise
        check.finish(report.to_dict())
