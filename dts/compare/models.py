"""Compare tasks (scope, schedule, options), their runs, the chunks a run fans out, differences, repairs.

A run's status changes only through its methods:

    QUEUED → RUNNING → COMPLETED | FAILED | STOPPED        (QUEUED → STOPPED when stopped early)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from connectors.spec import TableMapping, TaskSpec
from dts.accounts import audit
from dts.accounts.models import Workspace
from dts.datasources.models import Datasource
from dts.sync.models import SyncTask


class Mode(models.TextChoices):
    FULL = "full", "Every row"
    SAMPLE = "sample", "A percentage of the chunks"
    COUNT = "count", "Row counts only"


class CompareTask(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="compare_tasks")
    name = models.CharField(max_length=100)
    source = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="compare_source_of")
    target = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="compare_target_of")
    sync_task = models.ForeignKey(SyncTask, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="compare_tasks",
                                  help_text="Reuse this task's tables and mapping; live differences are re-checked.")
    tables = models.JSONField(default=list, blank=True,
                              help_text='As a task spec\'s "tables"; empty with a sync task = the task\'s tables.')
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.FULL)
    sample_percent = models.FloatField(default=10.0)
    options = models.JSONField(default=dict, blank=True,
                               help_text="rate_limit_rows, max_source_threads_running, chunk_size, float_tolerance")
    schedule = models.CharField(max_length=100, null=True, blank=True,
                                help_text='Cron "m h dom mon dow" in UTC, e.g. "0 2 * * *"; empty = on demand.')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="compare_task_name_per_workspace")]

    def __str__(self) -> str:
        return self.name

    def mappings(self) -> list[TableMapping]:
        """The tables to compare: its own list, or the sync task's mapping (source table → target table)."""
        if not self.tables and self.sync_task is not None:
            from dts.sync.specs import spec_for

            return list(spec_for(self.sync_task).tables)
        # The same validation and defaults as a task spec's "tables" (raises SpecError naming the item).
        spec = TaskSpec.from_json({"name": self.name, "source": self.source.connection_config().to_dict(),
                                   "target": self.target.connection_config().to_dict(), "mode": "full",
                                   "tables": self.tables})
        return list(spec.tables)

    def zero_date_policy(self) -> str:
        if self.sync_task is not None:
            return str((self.sync_task.options or {}).get("zero_date_policy", "null"))
        return "null"

    def sync_spec(self) -> TaskSpec | None:
        if self.sync_task is None:
            return None
        from dts.sync.specs import spec_for

        return spec_for(self.sync_task)


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"


FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED)
RUN_TRANSITIONS: dict[str, set[str]] = {
    "queued": {"running", "stopped", "failed"},
    "running": {"completed", "failed", "stopped"},
}


class CompareRun(models.Model):
    compare_task = models.ForeignKey(CompareTask, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    chunks_total = models.IntegerField(default=0)
    chunks_done = models.IntegerField(default=0)
    rows_total = models.BigIntegerField(default=0, help_text="Source rows, estimated when the run was planned.")
    rows_done = models.BigIntegerField(default=0)
    missing = models.IntegerField(default=0)
    extra = models.IntegerField(default=0)
    different = models.IntegerField(default=0)
    seed = models.IntegerField(default=0, help_text="Chooses the chunks of a sample run.")
    triggered_by = models.CharField(max_length=16, default="manual")  # manual | schedule
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.compare_task} run {self.pk} ({self.status})"

    @property
    def progress(self) -> dict[str, int]:
        return {"chunks_done": self.chunks_done, "chunks_total": self.chunks_total, "rows_done": self.rows_done,
                "rows_total": self.rows_total}

    @property
    def counts(self) -> dict[str, int]:
        return {"missing": self.missing, "extra": self.extra, "different": self.different}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return round(((self.finished_at or timezone.now()) - self.started_at).total_seconds(), 3)

    def _transition(self, new: str, actor: Any = None, **fields: Any) -> bool:
        """Change status if allowed from the current one (read under a row lock); False if not."""
        with transaction.atomic():
            current = CompareRun.objects.select_for_update().get(pk=self.pk)
            if new not in RUN_TRANSITIONS.get(current.status, set()):
                return False
            old = current.status
            current.status = new
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(update_fields=["status", *fields])
            self.status = new
            for name, value in fields.items():
                setattr(self, name, value)
            audit.record(f"compare {new}", actor=actor, obj=self, workspace=self.compare_task.workspace,
                         changes={"status": [old, new]})
        return True

    def mark_running(self) -> bool:
        return self._transition("running", started_at=timezone.now())

    def mark_completed(self, counts: dict[str, int]) -> bool:
        return self._transition("completed", finished_at=timezone.now(), **counts)

    def mark_failed(self, error: str) -> bool:
        return self._transition("failed", finished_at=timezone.now(), error=error)

    def request_stop(self, actor: Any = None) -> bool:
        return self._transition("stopped", actor=actor, finished_at=timezone.now())

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class CompareChunk(models.Model):
    """One primary-key range of one table of a run; any worker on the 'compare' queue may take it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(CompareRun, on_delete=models.CASCADE, related_name="chunks")
    source_table = models.CharField(max_length=300)
    target_table = models.CharField(max_length=300)
    index = models.IntegerField()
    bounds = models.JSONField(help_text="The chunk as the data plane describes it (table, index, low, high).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source_rows = models.BigIntegerField(default=0)
    target_rows = models.BigIntegerField(default=0)
    method = models.CharField(max_length=8, blank=True)
    attempts = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "source_table", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "source_table", "index"],
                                               name="one_compare_chunk_per_index")]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.source_table} chunk {self.index} ({self.status})"


class DiffKind(models.TextChoices):
    MISSING = "missing", "Missing in target"
    EXTRA = "extra", "Extra in target"
    DIFFERENT = "different", "Different"


class DiffRecord(models.Model):
    run = models.ForeignKey(CompareRun, on_delete=models.CASCADE, related_name="diffs")
    chunk = models.ForeignKey(CompareChunk, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    table = models.CharField(max_length=300, help_text='Target "db.table".')
    source_table = models.CharField(max_length=300)
    key = models.JSONField(help_text="Column → value.")
    key_values = models.JSONField(help_text="The key as the data plane stores it (self-describing values).")
    kind = models.CharField(max_length=10, choices=DiffKind.choices)
    columns = models.JSONField(default=list)
    source_row = models.JSONField(null=True, blank=True)
    target_row = models.JSONField(null=True, blank=True)
    repaired = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "table", "id"]
        indexes = [models.Index(fields=["run", "table", "kind"])]

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.kind}"


class RepairRun(models.Model):
    compare_run = models.ForeignKey(CompareRun, on_delete=models.CASCADE, related_name="repairs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    apply = models.BooleanField(default=True, help_text="False: only produce the SQL for review.")
    diff_ids = models.JSONField(default=list, help_text="The differences to repair (empty with all=true).")
    all_diffs = models.BooleanField(default=False)
    requested = models.IntegerField(default=0)
    repaired = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    verified_clean = models.BooleanField(null=True, blank=True)
    sql = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"repair {self.pk} of {self.compare_run} ({self.status})"

    def records(self) -> models.QuerySet[DiffRecord]:
        diffs = self.compare_run.diffs.all()
        return diffs if self.all_diffs else diffs.filter(pk__in=self.diff_ids)
