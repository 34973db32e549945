"""Sync tasks, their runs, checkpoints, per-table progress, logs and quarantined rows.

A task's status is a state machine changed only through its methods, which also write the
audit log and tell the console:

    NEW → QUEUED → RUNNING ⇄ PAUSED → COMPLETED | FAILED | STOPPED
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone

from dts.accounts import audit
from dts.accounts.models import Workspace
from dts.datasources.models import Datasource


class Status(models.TextChoices):
    NEW = "new", "New"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"


TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.QUEUED},
    Status.QUEUED: {Status.RUNNING, Status.STOPPED, Status.FAILED, Status.QUEUED},
    Status.RUNNING: {Status.PAUSED, Status.COMPLETED, Status.FAILED, Status.STOPPED, Status.QUEUED},
    Status.PAUSED: {Status.RUNNING, Status.STOPPED, Status.FAILED, Status.QUEUED},
    Status.COMPLETED: {Status.QUEUED},
    Status.FAILED: {Status.QUEUED},
    Status.STOPPED: {Status.QUEUED},
}
ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)


class InvalidTransition(Exception):
    pass


class Mode(models.TextChoices):
    SCHEMA = "schema", "Structure only"
    FULL = "full", "Full load"
    INCREMENTAL = "incremental", "Incremental"
    FULL_INCREMENTAL = "full+incremental", "Full then incremental"


class SyncTask(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="sync_tasks")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    source = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="source_of")
    target = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="target_of")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.FULL_INCREMENTAL)
    tables = models.JSONField(default=list, help_text='["db.table", {"source": "db.t", "target": "schema.t"}]')
    options = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict, blank=True,
                               help_text="Names, routes and per-table rules (see connectors.transform.mapping).")
    desired_state = models.CharField(max_length=16, default="stopped",
                                     choices=[("running", "Running"), ("stopped", "Stopped")])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW, editable=False)
    status_message = models.TextField(blank=True, editable=False)
    server_id = models.PositiveIntegerField(unique=True, null=True, blank=True, editable=False,
                                            help_text="MySQL replica identity of this task's binlog stream.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="task_name_per_workspace")]

    def __str__(self) -> str:
        return self.name

    # --- state machine ---------------------------------------------------------------------------
    def _transition(self, new: str, message: str = "", actor: Any = None, action: str | None = None,
                    **fields: Any) -> None:
        with transaction.atomic():
            current = SyncTask.objects.select_for_update().get(pk=self.pk)
            if new not in TRANSITIONS[current.status]:
                raise InvalidTransition(f"task {self.name} cannot go from {current.status} to {new}")
            old = current.status
            current.status, current.status_message = new, message
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(update_fields=["status", "status_message", "updated_at", *fields])
            self.status, self.status_message = current.status, current.status_message
            for name, value in fields.items():
                setattr(self, name, value)
            audit.record(action or new, actor=actor, obj=self, changes={"status": [old, new]} |
                         ({"message": [None, message]} if message else {}))
            task_id, workspace_id = self.pk, self.workspace_id
            transaction.on_commit(lambda: _announce(task_id, workspace_id, new, message))

    def request_start(self, actor: Any = None, action: str = "start") -> None:
        self._transition(Status.QUEUED, actor=actor, action=action, desired_state="running")

    def mark_running(self) -> None:
        self._transition(Status.RUNNING, action="running")

    def mark_completed(self) -> None:
        self._transition(Status.COMPLETED, action="completed", desired_state="stopped")

    def mark_stopped(self, message: str = "") -> None:
        self._transition(Status.STOPPED, message, action="stopped")

    def mark_failed(self, message: str) -> None:
        self._transition(Status.FAILED, message, action="failed", desired_state="stopped")

    def request_stop(self, actor: Any = None) -> None:
        """Ask the runner to stop gracefully; it checkpoints and marks the task stopped."""
        with transaction.atomic():
            SyncTask.objects.filter(pk=self.pk).update(desired_state="stopped")
            self.desired_state = "stopped"
            audit.record("stop", actor=actor, obj=self)
        if self.status == Status.QUEUED or self.status == Status.NEW:
            self.refresh_from_db()
            if self.status == Status.QUEUED:
                self.mark_stopped("stopped before it started")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    # --- replica identity ----------------------------------------------------------------------
    def allocate_server_id(self) -> int:
        """A server_id no other task uses, from DTS_SERVER_ID_BASE upwards (invariant 8)."""
        if self.server_id:
            return self.server_id
        base = settings.DTS_SERVER_ID_BASE
        for _ in range(20):
            highest = SyncTask.objects.aggregate(m=Max("server_id"))["m"] or base
            candidate = max(highest, base) + 1
            try:
                with transaction.atomic():
                    updated = SyncTask.objects.filter(pk=self.pk, server_id__isnull=True).update(server_id=candidate)
            except IntegrityError:
                continue  # another task took it at the same moment
            self.refresh_from_db(fields=["server_id"])
            if updated or self.server_id:
                return self.server_id  # type: ignore[return-value]
        raise RuntimeError("could not allocate a server_id")


def _announce(task_id: int, workspace_id: int, status: str, message: str) -> None:
    from dts.live import publish

    publish.to_workspace(workspace_id, {"type": "task_status", "task": task_id, "status": status,
                                        "message": message})


class TaskRun(models.Model):
    """One attempt at running a task, from a worker picking it up to its end."""

    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, default="running")
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task} run {self.pk} ({self.status})"

    def finish(self, status: str, error: str = "") -> None:
        self.status, self.error, self.finished_at = status, error, timezone.now()
        self.save(update_fields=["status", "error", "finished_at"])


class Checkpoint(models.Model):
    """The engine's state for a task: phase, snapshot chunks done, stream position."""

    task = models.OneToOneField(SyncTask, on_delete=models.CASCADE, related_name="checkpoint")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"checkpoint of {self.task}"


class TableProgress(models.Model):
    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="table_progress")
    source_table = models.CharField(max_length=300)
    rows_done = models.BigIntegerField(default=0)
    rows_estimate = models.BigIntegerField(null=True, blank=True)
    chunks_done = models.IntegerField(default=0)
    chunks_total = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source_table"]
        constraints = [models.UniqueConstraint(fields=["task", "source_table"], name="one_progress_per_table")]

    def __str__(self) -> str:
        return f"{self.source_table}: {self.rows_done} rows"

    @property
    def finished(self) -> bool:
        return self.chunks_total > 0 and self.chunks_done >= self.chunks_total


class TaskLog(models.Model):
    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="logs")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.CharField(max_length=10)
    message = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.level} {self.message[:60]}"


class SnapshotChunk(models.Model):
    """One primary-key range of a table's snapshot, loaded by any worker on the 'snapshot' queue."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="snapshot_chunks")
    source_table = models.CharField(max_length=300)
    index = models.IntegerField()
    bounds = models.JSONField(help_text="The chunk as the data plane describes it (table, index, low, high).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows = models.BigIntegerField(default=0)
    attempts = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "source_table", "index"]
        constraints = [models.UniqueConstraint(fields=["task", "source_table", "index"], name="one_chunk_per_index")]
        indexes = [models.Index(fields=["task", "status"])]

    def __str__(self) -> str:
        return f"{self.source_table} chunk {self.index} ({self.status})"


class TaskPrecheck(models.Model):
    """A pre-check of a task (source, target and every table), run on a worker before it starts."""

    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="prechecks")
    status = models.CharField(max_length=16, default="queued")  # queued, running, succeeded, failed
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"pre-check of {self.task} ({self.status})"

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    def finish(self, result: dict[str, Any] | None, error: str = "") -> None:
        self.status = "failed" if error else "succeeded"
        self.result, self.error, self.finished_at = result, error, timezone.now()
        self.save(update_fields=["status", "result", "error", "finished_at"])


class QuarantinedRow(models.Model):
    """A row the target rejected or a mapping rule could not process, kept under the task's dirty-data
    policy instead of being lost.

    stage says what `row` holds: "target", the row as written to the target (target column names,
    after the mapping), or "transform", the source row a rule failed on (source column names).
    """

    class Stage(models.TextChoices):
        TARGET = "target", "Rejected by the target"
        TRANSFORM = "transform", "A mapping rule failed"

    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="quarantine")
    source_table = models.CharField(max_length=300)
    target_table = models.CharField(max_length=300, blank=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.TARGET)
    key = models.JSONField()
    row = models.JSONField()
    column = models.CharField(max_length=128, blank=True)
    error = models.TextField()
    position = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["task", "source_table"])]

    def __str__(self) -> str:
        return f"{self.source_table} {self.key}: {self.error[:60]}"


class DdlInboxItem(models.Model):
    """A source DDL waiting for an operator (ddl_policy 'review'); its table is paused meanwhile.

    An operator approves it (maybe with an edited target statement) or ignores it; the running
    task picks the decision up, applies it, and sets the outcome (applied, ignored or failed with
    the error; a failed item can be approved again with another statement).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed at the target"

    class Decision(models.TextChoices):
        NONE = "", "None"
        APPLY = "apply", "Apply"
        IGNORE = "ignore", "Ignore"

    task = models.ForeignKey(SyncTask, on_delete=models.CASCADE, related_name="ddl_inbox")
    source_table = models.CharField(max_length=300)
    target_table = models.CharField(max_length=300)
    source_ddl = models.TextField()
    target_statement = models.TextField(blank=True)
    position = models.JSONField()
    position_key = models.CharField(max_length=500, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.NONE, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["task", "source_table", "position_key"],
                                               name="one_inbox_item_per_ddl")]

    def __str__(self) -> str:
        return f"{self.source_table}: {self.source_ddl[:60]} ({self.status})"

    @property
    def awaiting_decision(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.FAILED) and not self.decision

    def decide(self, decision: str, actor: Any, statement: str | None = None) -> None:
        """Record an operator's decision (audited); the running task acts on it."""
        if not self.awaiting_decision:
            raise InvalidTransition(f"this DDL is already {self.decision or self.status}")
        if decision == self.Decision.APPLY and not (statement if statement is not None else self.target_statement):
            raise InvalidTransition("there is no target statement to apply (it could not be translated: see "
                                    "error); approve with {\"target_statement\": \"...\"} or ignore it")
        with transaction.atomic():
            changes: dict[str, Any] = {"decision": [None, decision]}
            if statement is not None and statement != self.target_statement:
                changes["target_statement"] = [self.target_statement, statement]
                self.target_statement = statement
            self.decision, self.decided_by, self.decided_at = decision, actor, timezone.now()
            self.status, self.error = self.Status.PENDING, ""
            self.save(update_fields=["decision", "decided_by", "decided_at", "target_statement", "status", "error"])
            audit.record(f"ddl_{decision}", actor=actor, obj=self, workspace=self.task.workspace, changes=changes)
