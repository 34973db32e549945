from typing import Any

from django import forms
from django.contrib import admin

from dts.accounts.admin_audit import AuditedModelAdmin
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule


class AlertChannelForm(forms.ModelForm):
    # The admin never shows the stored secret; leaving the field empty keeps it.
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                             help_text="Leave empty to keep the current secret.")

    class Meta:
        model = AlertChannel
        fields = "__all__"

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        if not value and self.instance.pk:
            return self.instance.secret
        return value


@admin.register(AlertChannel)
class AlertChannelAdmin(AuditedModelAdmin):
    form = AlertChannelForm
    secret_fields = ("secret",)
    list_display = ["name", "workspace", "kind", "enabled", "updated_at"]
    list_filter = ["kind", "enabled", "workspace"]
    search_fields = ["name"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request: Any, obj: AlertChannel, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AlertRule)
class AlertRuleAdmin(AuditedModelAdmin):
    list_display = ["name", "workspace", "task", "kind", "severity", "threshold", "for_seconds", "enabled",
                    "silenced_until"]
    list_filter = ["kind", "severity", "enabled", "workspace"]
    search_fields = ["name"]
    filter_horizontal = ["channels"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request: Any, obj: AlertRule, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class MonitorWrittenAdmin(admin.ModelAdmin):
    """Written by the delay monitor and the delivery jobs only."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(MonitorWrittenAdmin):
    list_display = ["rule", "task", "state", "value", "fired_at", "resolved_at", "last_sent_at", "times_sent"]
    list_filter = ["state", "rule__severity"]
    search_fields = ["rule__name", "task__name"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(MonitorWrittenAdmin):
    list_display = ["channel", "event", "notice", "status", "http_status", "attempt", "at"]
    list_filter = ["status", "notice"]
