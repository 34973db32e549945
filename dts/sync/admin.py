from typing import Any

from django.contrib import admin

from dts.accounts.admin_audit import AuditedModelAdmin
from dts.sync.models import (
    Checkpoint,
    DdlInboxItem,
    QuarantinedRow,
    SnapshotChunk,
    SyncTask,
    TableProgress,
    TaskLog,
    TaskPrecheck,
    TaskRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by runners only."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class TableProgressInline(admin.TabularInline):
    model = TableProgress
    extra = 0
    can_delete = False
    readonly_fields = ["source_table", "rows_done", "rows_estimate", "chunks_done", "chunks_total", "updated_at"]


@admin.register(SyncTask)
class SyncTaskAdmin(AuditedModelAdmin):
    list_display = ["name", "workspace", "mode", "source", "target", "status", "desired_state", "updated_at"]
    list_filter = ["status", "mode", "workspace"]
    search_fields = ["name"]
    readonly_fields = ["status", "status_message", "server_id", "desired_state", "created_by", "created_at",
                       "updated_at"]
    inlines = [TableProgressInline]


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    list_display = ["task", "status", "worker", "started_at", "finished_at"]
    list_filter = ["status"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["task", "updated_at"]


@admin.register(TableProgress)
class TableProgressAdmin(ReadOnlyAdmin):
    list_display = ["task", "source_table", "rows_done", "rows_estimate", "chunks_done", "chunks_total"]


@admin.register(TaskLog)
class TaskLogAdmin(ReadOnlyAdmin):
    list_display = ["task", "at", "level", "message"]
    list_filter = ["level"]


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(ReadOnlyAdmin):
    list_display = ["task", "source_table", "key", "column", "error", "created_at"]


@admin.register(TaskPrecheck)
class TaskPrecheckAdmin(ReadOnlyAdmin):
    list_display = ["task", "status", "created_at", "finished_at"]


@admin.register(SnapshotChunk)
class SnapshotChunkAdmin(ReadOnlyAdmin):
    list_display = ["task", "source_table", "index", "status", "rows", "attempts", "finished_at"]
    list_filter = ["status"]


@admin.register(DdlInboxItem)
class DdlInboxItemAdmin(ReadOnlyAdmin):
    """Decided through the API (audited there), so read-only here."""

    list_display = ["task", "source_table", "status", "decision", "decided_by", "created_at"]
    list_filter = ["status"]
