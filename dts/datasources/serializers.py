from __future__ import annotations

from typing import Any

from rest_framework import serializers

from dts.accounts.models import Workspace
from dts.datasources.models import DEFAULT_PORTS, Datasource, DatasourceJob

MASK = "********"


class MaskedPasswordField(serializers.CharField):
    """Write-only in effect: reads answer a mask (or "" when unset); writing the mask keeps the old value."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return MASK if value else ""


class MemberWorkspaceField(serializers.PrimaryKeyRelatedField):
    """Only the caller's workspaces exist as far as this field is concerned."""

    def get_queryset(self) -> Any:
        return Workspace.objects.visible_to(self.context["request"].user)


class DatasourceSerializer(serializers.ModelSerializer):
    workspace = MemberWorkspaceField()
    password = MaskedPasswordField()
    port = serializers.IntegerField(required=False, min_value=1, max_value=65535)

    class Meta:
        model = Datasource
        fields = ["id", "workspace", "name", "engine", "host", "port", "user", "password", "database", "options",
                  "description", "created_at", "updated_at", "last_check_status", "last_checked_at"]
        read_only_fields = ["created_at", "updated_at", "last_check_status", "last_checked_at"]
        # Uniqueness is checked in validate() so the error names the 'name' field.
        validators: list[object] = []

    def validate_password(self, value: str) -> str:
        if value == MASK:
            raise serializers.SkipField()
        return value

    def validate_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Options must be a JSON object, e.g. {\"ssl\": true}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            if "workspace" in attrs and attrs["workspace"] != self.instance.workspace:
                raise serializers.ValidationError({"workspace": "A datasource cannot move to another workspace."})
        engine = attrs.get("engine", getattr(self.instance, "engine", None))
        if "port" not in attrs and self.instance is None and engine in DEFAULT_PORTS:
            attrs["port"] = DEFAULT_PORTS[engine]
        workspace = attrs.get("workspace", getattr(self.instance, "workspace", None))
        name = attrs.get("name", getattr(self.instance, "name", None))
        clash = Datasource.objects.filter(workspace=workspace, name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"name": "A datasource with this name already exists in the workspace."})
        return attrs


class DatasourceJobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="datasourcejob-detail")

    class Meta:
        model = DatasourceJob
        fields = ["id", "url", "datasource", "kind", "status", "result", "error", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields
