"""SyncRunner: one attempt at running a task on a worker, from lease to final status.

It holds the task's lease, watches for a stop request, runs the data plane's TaskRunner with a
database checkpoint store, retries with backoff when a source or target is briefly
unreachable, and ends the task in the status the engine's outcome calls for.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections

from connectors.errors import ConnectorError, is_transient
from connectors.pipeline.review import APPLY, DdlDecision
from connectors.pipeline.task import SnapshotStage, TaskRunner
from connectors.types import TableId
from dts.sync.checkpoints import DatabaseCheckpointStore
from dts.sync.distributed_snapshot import DistributedSnapshot
from dts.sync.lease import TaskLease
from dts.sync.models import DdlInboxItem, Status, SyncTask, TaskRun
from dts.sync.observer import DatabaseObserver
from dts.sync.specs import spec_for

log = logging.getLogger("dts.sync")
MAX_BACKOFF_SECONDS = 60.0


class SyncRunner:
    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self.stop = threading.Event()  # tells the engine to stop gracefully
        self.finished = threading.Event()  # tells the watcher this runner is done
        self.reload = threading.Event()  # the task's tables were edited: stop, then run again with them
        self.lease_lost = threading.Event()
        self.running_tables: list[object] = []
        self.running_mapping: dict[str, object] = {}

    def run(self) -> None:
        task = SyncTask.objects.select_related("source", "target").get(pk=self.task_id)
        if task.desired_state != "running" or task.status not in (Status.QUEUED, Status.RUNNING):
            log.info("task %s: not to be run (desired %s, status %s)", task.pk, task.desired_state, task.status)
            return
        lease = TaskLease(task.pk)
        if not lease.acquire():
            log.info("task %s: another runner holds the lease; this copy exits", task.pk)
            return
        run = TaskRun.objects.create(task=task, worker=socket.gethostname())
        watcher = threading.Thread(target=self._watch, args=(lease,), name=f"task-{task.pk}-watch", daemon=True)
        try:
            if task.status == Status.QUEUED:
                task.mark_running()
            self.running_tables = list(task.tables)
            self.running_mapping = task.mapping
            watcher.start()
            self._run_with_retries(task, run)
        finally:
            self.stop.set()
            self.finished.set()
            watcher.join(timeout=10)
            if not self.lease_lost.is_set():
                lease.release()

    def _run_with_retries(self, task: SyncTask, run: TaskRun) -> None:
        observer = DatabaseObserver(task)
        backoff = 1.0
        while True:
            try:
                task.refresh_from_db(fields=["tables", "options", "mapping"])
                self.running_tables = list(task.tables)
                self.running_mapping = task.mapping
                outcome = TaskRunner(spec_for(task), DatabaseCheckpointStore(task), observer, self.stop,
                                     snapshot_stage=self._snapshot_stage(task),
                                     ddl_inbox=DatabaseDdlInbox(task)).run()
            except Exception as exc:
                if is_transient(exc) and not self.stop.is_set():
                    observer.log("warning", f"{type(exc).__name__}: {exc}; retrying in {backoff:.0f}s")
                    if self.stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                message = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
                observer.log("error", message)
                run.finish("failed", message)
                task.mark_failed(message)
                if not isinstance(exc, ConnectorError):
                    raise
                return
            else:
                if outcome == "completed":
                    run.finish("completed")
                    task.mark_completed()
                    return
                if self.reload.is_set() and not self.lease_lost.is_set():
                    # Tables were added or removed: run again with them (new ones join the stream).
                    self.reload.clear()
                    self.stop.clear()
                    observer.log("info", "the task's tables or mapping changed; continuing with them")
                    continue
                break
        if self.lease_lost.is_set():
            run.finish("lost", "the lease expired; another runner took over")
            return
        run.finish("stopped")
        task.refresh_from_db()
        if task.status in (Status.RUNNING, Status.PAUSED):
            task.mark_stopped()

    @staticmethod
    def _snapshot_stage(task: SyncTask) -> Callable[[TaskRunner], SnapshotStage] | None:
        """Chunks fan out to workers on the 'snapshot' queue unless DTS_DISTRIBUTED_SNAPSHOT is off."""
        if not settings.DTS_DISTRIBUTED_SNAPSHOT:
            return None
        return lambda runner: DistributedSnapshot(task, runner)

    def _watch(self, lease: TaskLease) -> None:
        """Look for a stop request every second; renew the lease about every lease-TTL/3."""
        renew_every = max(0.2, settings.DTS_LEASE_TTL_SECONDS / 3)
        renewed = time.monotonic()
        try:
            while not self.finished.wait(min(1.0, renew_every)):
                if time.monotonic() - renewed >= renew_every:
                    if not lease.renew():
                        log.error("task %s: lease lost; stopping this runner", self.task_id)
                        self.lease_lost.set()
                        self.stop.set()
                        return
                    renewed = time.monotonic()
                desired, tables, mapping = SyncTask.objects.filter(pk=self.task_id).values_list(
                    "desired_state", "tables", "mapping").first() or (None, None, None)
                if desired != "running":
                    self.stop.set()
                elif (tables != self.running_tables or mapping != self.running_mapping) and not self.stop.is_set():
                    self.reload.set()
                    self.stop.set()
        finally:
            connections.close_all()


def _position_key(position: dict[str, object]) -> str:
    return json.dumps(position, sort_keys=True)[:500]


class DatabaseDdlInbox:
    """The DDL inbox of one task in the control plane's database (connectors.pipeline.review.DdlInbox)."""

    def __init__(self, task: SyncTask) -> None:
        self.task = task

    def _item(self, table: TableId, position: dict[str, object]) -> DdlInboxItem | None:
        return DdlInboxItem.objects.filter(task=self.task, source_table=str(table),
                                           position_key=_position_key(position)).first()

    def submit(self, table: TableId, target: TableId, ddl: str, statement: str, position: dict[str, object],
               error: str = "") -> None:
        item, created = DdlInboxItem.objects.get_or_create(
            task=self.task, source_table=str(table), position_key=_position_key(position),
            defaults={"target_table": str(target), "source_ddl": ddl, "target_statement": statement,
                      "position": position, "error": error})
        if created:
            log.info("task %s: DDL of %s waits for review (item %s)", self.task.pk, table, item.pk)

    def decision(self, table: TableId, position: dict[str, object]) -> DdlDecision | None:
        item = self._item(table, position)
        if item is None or item.status != DdlInboxItem.Status.PENDING or not item.decision:
            return None
        return DdlDecision(item.decision, item.target_statement)

    def done(self, table: TableId, position: dict[str, object], error: str = "") -> None:
        item = self._item(table, position)
        if item is None:
            return
        if error:
            item.status, item.decision, item.error = DdlInboxItem.Status.FAILED, DdlInboxItem.Decision.NONE, error
        else:
            item.status = (DdlInboxItem.Status.APPLIED if item.decision == APPLY else DdlInboxItem.Status.IGNORED)
        item.save(update_fields=["status", "decision", "error"])
