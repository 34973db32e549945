from __future__ import annotations

from typing import Any

from rest_framework import serializers

from connectors.compare.options import CompareOptions, CompareOptionsError
from connectors.spec import SpecError, TaskSpec
from dts.compare.jobs import cron_schedule
from dts.compare.models import CompareRun, CompareTask, DiffRecord, RepairRun
from dts.datasources.serializers import MemberWorkspaceField

# What the API lets a user set; the rest of CompareOptions are internal knobs.
API_OPTIONS = ("rate_limit_rows", "max_source_threads_running", "chunk_size", "float_tolerance")


class CompareRunSerializer(serializers.ModelSerializer):
    progress = serializers.DictField(read_only=True)
    counts = serializers.DictField(read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = CompareRun
        fields = ["id", "compare_task", "status", "progress", "counts", "started_at", "finished_at",
                  "duration_seconds", "error", "triggered_by", "created_at"]
        read_only_fields = fields


class CompareTaskSerializer(serializers.ModelSerializer):
    workspace = MemberWorkspaceField()
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = CompareTask
        fields = ["id", "workspace", "name", "source", "target", "sync_task", "tables", "mode", "sample_percent",
                  "options", "schedule", "created_at", "last_run"]
        read_only_fields = ["created_at", "last_run"]
        validators: list[object] = []

    def get_last_run(self, obj: CompareTask) -> dict[str, Any] | None:
        run = obj.runs.order_by("-created_at", "-id").first()
        return CompareRunSerializer(run).data if run is not None else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance

        def current(name: str) -> Any:
            return attrs.get(name, getattr(instance, name, None))

        workspace = current("workspace")
        if instance is not None and "workspace" in attrs and attrs["workspace"] != instance.workspace:
            raise serializers.ValidationError({"workspace": "A compare task cannot move to another workspace."})
        for field in ("source", "target", "sync_task"):
            related = current(field)
            if related is not None and related.workspace_id != getattr(workspace, "pk", None):
                raise serializers.ValidationError({field: f"Choose a {field.replace('_', ' ')} of the compare "
                                                          "task's workspace."})
        sync_task, source, target = current("sync_task"), current("source"), current("target")
        if sync_task is not None and (source != sync_task.source or target != sync_task.target):
            raise serializers.ValidationError({"sync_task": "The sync task copies between other datasources: use "
                                                            "its source and target."})
        tables = current("tables") or []
        if not tables and sync_task is None:
            raise serializers.ValidationError({"tables": "List the tables to compare, or attach a sync task."})
        if tables and source is not None and target is not None:
            try:
                TaskSpec.from_json({"name": "compare", "source": source.connection_config().to_dict(),
                                    "target": target.connection_config().to_dict(), "mode": "full",
                                    "tables": tables})
            except SpecError as exc:
                raise serializers.ValidationError(
                    {"tables": [f"{p}: {m}" for p, m in exc.problems if p.startswith("tables")]}) from None
        options = current("options") or {}
        unknown = sorted(set(options) - set(API_OPTIONS))
        if unknown:
            raise serializers.ValidationError({"options": f"unknown option(s) {', '.join(unknown)}; known: "
                                                          f"{', '.join(API_OPTIONS)}"})
        try:
            CompareOptions.from_json({**options, "mode": current("mode") or "full",
                                      "sample_percent": current("sample_percent") or 10.0})
        except CompareOptionsError as exc:
            errors: dict[str, list[str]] = {}
            for path, message in exc.problems:
                errors.setdefault(path.split(".")[0], []).append(f"{path}: {message}")
            raise serializers.ValidationError(errors) from None
        schedule = current("schedule")
        if schedule:
            try:
                cron_schedule(schedule)
            except (ValueError, KeyError) as exc:
                raise serializers.ValidationError({"schedule": f"{exc}"}) from None
        clash = CompareTask.objects.filter(workspace=workspace, name=current("name"))
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"name": "A compare task with this name already exists in the "
                                                       "workspace."})
        return attrs


class DiffRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiffRecord
        fields = ["id", "table", "source_table", "key", "kind", "columns", "source_row", "target_row", "repaired"]
        read_only_fields = fields


class RepairRequestSerializer(serializers.Serializer):
    diff_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    all = serializers.BooleanField(required=False, default=False)
    apply = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and not attrs.get("diff_ids"):
            raise serializers.ValidationError({"diff_ids": 'Give the differences to repair, or "all": true.'})
        return attrs


class RepairRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = RepairRun
        fields = ["id", "compare_run", "status", "apply", "requested", "repaired", "failed", "verified_clean",
                  "started_at", "finished_at", "error", "created_at"]
        read_only_fields = fields
