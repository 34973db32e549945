"""Runs a task's pre-check on a worker: the data plane's precheck() of the task's spec."""

from __future__ import annotations

import logging

from connectors.base import CheckItem, CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.precheck import precheck
from connectors.registry import source_for
from connectors.spec import TaskSpec
from connectors.transform.shards import shard_key_conflicts
from dts.sync.models import SyncTask, TaskPrecheck
from dts.sync.specs import SLOT_PREFIX, spec_for

log = logging.getLogger("dts.sync")


def task_report(spec: TaskSpec) -> CheckReport:
    """Every pre-check item of a task: the data plane's, routed shards' key conflicts, orphaned slots."""
    report = precheck(spec)
    if report.status_for(CheckScope.CONNECTION) != CheckStatus.FAILED:
        report.items.extend(shard_key_conflicts(spec, source_for))
    orphans = orphaned_slots(spec.source)
    if orphans is not None:
        report.items.append(orphans)
    return report


class PrecheckRunner:
    def __init__(self, precheck_id: int) -> None:
        self.precheck = TaskPrecheck.objects.select_related("task__source", "task__target").get(pk=precheck_id)

    def run(self) -> None:
        check = self.precheck
        if check.done:
            return
        TaskPrecheck.objects.filter(pk=check.pk).update(status="running")
        try:
            report = task_report(spec_for(check.task))
        except ConnectorError as exc:
            check.finish(None, str(exc))
            return
        except Exception as exc:
            log.exception("%s crashed", check)
            check.finish(None, f"unexpected error: {type(exc).__name__}: {exc}")
            raise
        check.finish(report.to_dict())


def orphaned_slots(config: ConnectionConfig) -> CheckItem | None:
    """A PostgreSQL source's dts_task_<id> slots whose task no longer exists: they keep WAL for nobody."""
    if config.engine != "postgresql":
        return None
    source = source_for(config)
    try:
        slots = source.dts_slots()  # type: ignore[attr-defined]
    finally:
        source.close()
    by_task = {}
    for slot in slots:
        suffix = slot["slot"][len(SLOT_PREFIX):]
        if slot["slot"].startswith(SLOT_PREFIX) and suffix.isdigit():
            by_task[int(suffix)] = slot
    live = set(SyncTask.objects.filter(pk__in=by_task).values_list("pk", flat=True))
    orphans = [slot for task_id, slot in sorted(by_task.items()) if task_id not in live]
    title = "Source: orphaned replication slots"
    if not orphans:
        return CheckItem("source.orphaned_task_slots", title, CheckStatus.PASSED,
                         "every dts_task_* slot belongs to an existing task", scope=CheckScope.SOURCE)
    listed = ", ".join(f"{s['slot']} ({s['retained_wal_bytes']:,} bytes of WAL retained"
                       f"{', in use' if s['active'] else ''})" for s in orphans)
    drops = " ".join(f"SELECT pg_drop_replication_slot('{s['slot']}');" for s in orphans)
    return CheckItem("source.orphaned_task_slots", title, CheckStatus.WARNING,
                     f"{len(orphans)} slot(s) of deleted tasks keep WAL on the source: {listed}",
                     f"Drop them on the source server: {drops} (and DROP PUBLICATION of the same names).",
                     CheckScope.SOURCE)
