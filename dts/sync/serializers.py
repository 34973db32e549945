from __future__ import annotations

from typing import Any

from rest_framework import serializers

from connectors.spec import SpecError, TaskSpec
from dts.datasources.serializers import MemberWorkspaceField
from dts.sync.models import (
    Checkpoint,
    DdlInboxItem,
    QuarantinedRow,
    SyncTask,
    TableProgress,
    TaskLog,
    TaskPrecheck,
    TaskRun,
)


class SyncTaskSerializer(serializers.ModelSerializer):
    workspace = MemberWorkspaceField()
    url = serializers.HyperlinkedIdentityField(view_name="synctask-detail")

    class Meta:
        model = SyncTask
        fields = ["id", "url", "workspace", "name", "description", "source", "target", "mode", "tables", "options",
                  "mapping", "desired_state", "status", "status_message", "server_id", "created_at", "updated_at"]
        read_only_fields = ["desired_state", "status", "status_message", "server_id", "created_at", "updated_at"]
        validators: list[object] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        workspace = attrs.get("workspace", getattr(instance, "workspace", None))
        if instance is not None and "workspace" in attrs and attrs["workspace"] != instance.workspace:
            raise serializers.ValidationError({"workspace": "A task cannot move to another workspace."})
        for field in ("source", "target"):
            datasource = attrs.get(field, getattr(instance, field, None))
            if datasource is not None and datasource.workspace_id != getattr(workspace, "pk", None):
                raise serializers.ValidationError({field: "Choose a datasource of the task's workspace."})
        if instance is not None and instance.is_active and ({"source", "target", "mode"} & set(attrs)):
            raise serializers.ValidationError("Stop the task before changing its source, target or mode.")
        name = attrs.get("name", getattr(instance, "name", None))
        clash = SyncTask.objects.filter(workspace=workspace, name=name)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if self.check_name and clash.exists():
            raise serializers.ValidationError({"name": "A task with this name already exists in the workspace."})
        self.spec = self._validate_spec(attrs)
        return attrs

    check_name = True  # a preview validates a task body without creating the task

    def _validate_spec(self, attrs: dict[str, Any]) -> TaskSpec | None:
        instance = self.instance
        source = attrs.get("source", getattr(instance, "source", None))
        target = attrs.get("target", getattr(instance, "target", None))
        if source is None or target is None:
            return None
        spec = {"name": attrs.get("name", getattr(instance, "name", "task")),
                "source": source.connection_config().to_dict(), "target": target.connection_config().to_dict(),
                "mode": attrs.get("mode", getattr(instance, "mode", "full+incremental")),
                "tables": attrs.get("tables", getattr(instance, "tables", [])),
                "options": attrs.get("options", getattr(instance, "options", {})),
                "mapping": attrs.get("mapping", getattr(instance, "mapping", {}))}
        try:
            return TaskSpec.from_json(spec)
        except SpecError as exc:
            errors: dict[str, list[str]] = {}
            for path, message in exc.problems:
                field = path.split(".")[0].split("[")[0] or "non_field_errors"
                errors.setdefault(field, []).append(f"{path}: {message}")
            raise serializers.ValidationError(errors) from None


class TaskPrecheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskPrecheck
        fields = ["id", "task", "status", "result", "error", "created_at", "finished_at"]
        read_only_fields = fields


class TaskRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskRun
        fields = ["id", "status", "worker", "started_at", "finished_at", "error"]


class TableProgressSerializer(serializers.ModelSerializer):
    finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = TableProgress
        fields = ["source_table", "rows_done", "rows_estimate", "chunks_done", "chunks_total", "finished",
                  "updated_at"]


class TaskLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskLog
        fields = ["at", "level", "message"]


class PreviewSerializer(SyncTaskSerializer):
    """The body of a task create, for a preview: nothing is saved, and the name is optional."""

    check_name = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["name"].default = "preview"


class QuarantinedRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuarantinedRow
        fields = ["id", "source_table", "target_table", "stage", "key", "row", "column", "error", "position",
                  "created_at"]
        read_only_fields = ["id", "source_table", "target_table", "stage", "key", "column", "error", "position",
                            "created_at"]

    def validate_row(self, value: Any) -> Any:
        if not isinstance(value, dict) or not value:
            raise serializers.ValidationError("must be an object of column names to values")
        known = set(self.instance.row) if self.instance is not None else set(value)
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(f"unknown column(s) {', '.join(unknown)}; the row has "
                                              f"{', '.join(sorted(known))}")
        return value


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("ids")) == bool(attrs.get("all")):
            raise serializers.ValidationError('give either "ids": [...] or "all": true')
        return attrs


class DdlInboxItemSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DdlInboxItem
        fields = ["id", "source_table", "target_table", "source_ddl", "target_statement", "status", "decision",
                  "position", "created_at", "decided_by", "decided_at", "error"]
        read_only_fields = fields


class DdlApproveSerializer(serializers.Serializer):
    target_statement = serializers.CharField(required=False, allow_blank=False, trim_whitespace=True)


class CheckpointSerializer(serializers.ModelSerializer):
    phase = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()

    class Meta:
        model = Checkpoint
        fields = ["phase", "position", "updated_at"]

    def get_phase(self, obj: Checkpoint) -> str | None:
        return obj.state.get("phase")

    def get_position(self, obj: Checkpoint) -> Any:
        return obj.state.get("position")
