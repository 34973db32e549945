from __future__ import annotations

from typing import Any

from rest_framework import serializers

from dts.accounts.models import Workspace
from dts.compare.models import CompareTask
from dts.datasources.serializers import MASK, MaskedPasswordField, MemberWorkspaceField
from dts.monitor.channels import channel_class
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, RuleKind
from dts.monitor.outbound_http import check_url
from dts.sync.models import SyncTask

# Kinds whose threshold means something, and what it is when the rule leaves it empty (None: required).
THRESHOLD_DEFAULTS: dict[str, float | None] = {
    RuleKind.LAG: None, RuleKind.RETENTION: None, RuleKind.QUARANTINE: 0.0, RuleKind.STALLED: 60.0,
}


class MemberObjectField(serializers.PrimaryKeyRelatedField):
    """Objects of the caller's workspaces only; others do not exist as far as this field is concerned."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        user = self.context["request"].user
        queryset = self.model.objects.all()
        return queryset.filter(workspace__in=Workspace.objects.visible_to(user))


def _unique_name(model: Any, instance: Any, attrs: dict[str, Any], what: str) -> None:
    workspace = attrs.get("workspace", getattr(instance, "workspace", None))
    name = attrs.get("name", getattr(instance, "name", None))
    clash = model.objects.filter(workspace=workspace, name=name)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise serializers.ValidationError({"name": f"An alert {what} with this name already exists in the workspace."})


def _same_workspace(instance: Any, attrs: dict[str, Any], what: str) -> None:
    if instance is not None and "workspace" in attrs and attrs["workspace"] != instance.workspace:
        raise serializers.ValidationError({"workspace": f"An alert {what} cannot move to another workspace."})


class AlertChannelSerializer(serializers.ModelSerializer):
    workspace = MemberWorkspaceField()
    secret = MaskedPasswordField(help_text="Signing secret (write-only; reads answer ******** when set).")

    class Meta:
        model = AlertChannel
        fields = ["id", "workspace", "name", "kind", "url", "secret", "options", "enabled", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list[object] = []

    def validate_secret(self, value: str) -> str:
        if value == MASK:
            raise serializers.SkipField()  # the form sent back what it read: keep the stored secret
        return value

    def validate_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError('Options must be a JSON object, e.g. {"msg_type": "text"}.')
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        _same_workspace(instance, attrs, "channel")
        _unique_name(AlertChannel, instance, attrs, "channel")
        kind = attrs.get("kind", getattr(instance, "kind", None))
        sender = channel_class(str(kind))
        try:
            sender.clean_options(attrs.get("options", getattr(instance, "options", None)) or {})
        except ValueError as exc:
            raise serializers.ValidationError({"options": str(exc)}) from None
        url = attrs.get("url", getattr(instance, "url", ""))
        if sender.needs_url:
            try:
                check_url(url or "")
            except ValueError as exc:
                raise serializers.ValidationError({"url": str(exc)}) from None
        return attrs


class AlertRuleSerializer(serializers.ModelSerializer):
    workspace = MemberWorkspaceField()
    task = MemberObjectField(SyncTask, required=False, allow_null=True,
                             help_text="Empty: every task of the workspace.")
    compare_task = MemberObjectField(CompareTask, required=False, allow_null=True,
                                     help_text="compare_diff only: this compare task's runs, standalone or not.")
    channels = MemberObjectField(AlertChannel, many=True, required=False)

    class Meta:
        model = AlertRule
        fields = ["id", "workspace", "task", "compare_task", "name", "kind", "severity", "threshold", "for_seconds",
                  "channels", "repeat_interval_seconds", "silenced_until", "enabled", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list[object] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        _same_workspace(instance, attrs, "rule")
        _unique_name(AlertRule, instance, attrs, "rule")
        workspace = attrs.get("workspace", getattr(instance, "workspace", None))
        task = attrs.get("task", getattr(instance, "task", None))
        if task is not None and task.workspace_id != getattr(workspace, "pk", None):
            raise serializers.ValidationError({"task": "Choose a task of the rule's workspace."})
        compare_task = attrs.get("compare_task", getattr(instance, "compare_task", None))
        if compare_task is not None:
            if attrs.get("kind", getattr(instance, "kind", None)) != RuleKind.COMPARE_DIFF:
                raise serializers.ValidationError(
                    {"compare_task": "Only a compare_diff rule can be about a compare task; leave it empty."})
            if task is not None:
                raise serializers.ValidationError(
                    {"compare_task": "Choose either a task or a compare task, not both."})
            if compare_task.workspace_id != getattr(workspace, "pk", None):
                raise serializers.ValidationError({"compare_task": "Choose a compare task of the rule's workspace."})
        channels = attrs.get("channels", list(instance.channels.all()) if instance is not None else [])
        if any(channel.workspace_id != getattr(workspace, "pk", None) for channel in channels):
            raise serializers.ValidationError({"channels": "Choose channels of the rule's workspace."})
        kind = attrs.get("kind", getattr(instance, "kind", None))
        threshold = attrs.get("threshold", getattr(instance, "threshold", None))
        if kind in THRESHOLD_DEFAULTS and threshold is None:
            default = THRESHOLD_DEFAULTS[kind]
            if default is None:
                raise serializers.ValidationError({"threshold": f"A {kind} rule needs a threshold."})
            attrs["threshold"] = default
        if threshold is not None and threshold < 0:
            raise serializers.ValidationError({"threshold": "The threshold cannot be negative."})
        return attrs


class AlertEventSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    rule_kind = serializers.CharField(source="rule.kind", read_only=True)
    severity = serializers.CharField(source="rule.severity", read_only=True)
    task_name = serializers.CharField(source="task.name", read_only=True, allow_null=True)
    compare_task_name = serializers.CharField(source="compare_task.name", read_only=True, allow_null=True)

    class Meta:
        model = AlertEvent
        fields = ["id", "rule", "rule_name", "rule_kind", "severity", "task", "task_name", "compare_task",
                  "compare_task_name", "state", "value",
                  "message", "fired_at", "resolved_at", "last_sent_at", "times_sent"]
        read_only_fields = fields


class AlertDeliverySerializer(serializers.ModelSerializer):
    channel_name = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = AlertDelivery
        fields = ["id", "channel", "channel_name", "event", "notice", "status", "http_status", "error", "attempt",
                  "at"]
        read_only_fields = fields
