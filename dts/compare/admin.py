from typing import Any

from django.contrib import admin

from dts.accounts.admin_audit import AuditedModelAdmin
from dts.compare.models import CompareChunk, CompareRun, CompareTask, DiffRecord, RepairRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by compare jobs only."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(CompareTask)
class CompareTaskAdmin(AuditedModelAdmin):
    list_display = ["name", "workspace", "source", "target", "sync_task", "mode", "schedule"]
    list_filter = ["workspace", "mode"]


@admin.register(CompareRun)
class CompareRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "compare_task", "status", "chunks_done", "chunks_total", "missing", "extra", "different",
                    "started_at", "finished_at"]
    list_filter = ["status"]


@admin.register(DiffRecord)
class DiffRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "table", "key", "kind", "repaired"]
    list_filter = ["kind", "repaired"]


@admin.register(RepairRun)
class RepairRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "compare_run", "status", "apply", "requested", "repaired", "failed", "verified_clean"]


@admin.register(CompareChunk)
class CompareChunkAdmin(ReadOnlyAdmin):
    list_display = ["run", "source_table", "index", "status", "method", "source_rows", "target_rows", "attempts"]
    list_filter = ["status"]
