"""Admin panel changes go to the same audit log as API changes, secrets redacted."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin

from dts.accounts import audit


class AuditedModelAdmin(admin.ModelAdmin):
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        old = type(obj).objects.get(pk=obj.pk) if change else None
        before = audit.snapshot(old, self.secret_fields) if old is not None else {}
        super().save_model(request, obj, form, change)
        secrets = audit.changed_secrets(old, obj, self.secret_fields) if change else []
        changes = audit.diff(before, audit.snapshot(obj, self.secret_fields), self.secret_fields, secrets)
        audit.record("update" if change else "create", actor=request.user, obj=obj, changes=changes,
                     remote_addr=audit.client_ip(request))

    def delete_model(self, request: Any, obj: Any) -> None:
        pk, repr_, workspace = obj.pk, str(obj), getattr(obj, "workspace", None)
        super().delete_model(request, obj)
        obj.pk = pk
        audit.record("delete", actor=request.user, obj=obj, workspace=workspace, object_repr=repr_,
                     remote_addr=audit.client_ip(request))

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for obj in list(queryset):
            self.delete_model(request, obj)
