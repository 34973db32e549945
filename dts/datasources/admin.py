from typing import Any

from django import forms
from django.contrib import admin

from dts.accounts.admin_audit import AuditedModelAdmin
from dts.datasources.models import Datasource, DatasourceJob


class DatasourceForm(forms.ModelForm):
    # The admin never shows the stored password; leaving the field empty keeps it.
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="Leave empty to keep the current password.")

    class Meta:
        model = Datasource
        fields = "__all__"

    def clean_password(self) -> str:
        value = self.cleaned_data.get("password") or ""
        if not value and self.instance.pk:
            return self.instance.password
        return value


@admin.register(Datasource)
class DatasourceAdmin(AuditedModelAdmin):
    form = DatasourceForm
    secret_fields = ("password",)
    list_display = ["name", "workspace", "engine", "host", "port", "database", "last_check_status", "last_checked_at"]
    list_filter = ["engine", "workspace", "last_check_status"]
    search_fields = ["name", "host", "database"]
    readonly_fields = ["created_by", "created_at", "updated_at", "last_check_status", "last_checked_at"]

    def save_model(self, request: Any, obj: Datasource, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(DatasourceJob)
class DatasourceJobAdmin(admin.ModelAdmin):
    list_display = ["datasource", "kind", "status", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = ["datasource", "kind", "status", "result", "error", "requested_by", "created_at",
                       "started_at", "finished_at"]

    def has_add_permission(self, request: Any) -> bool:
        return False
