"""The one base viewset every workspace-owned resource uses.

It restricts the queryset to the caller's workspaces (outsiders get 404), maps HTTP verbs
and actions to roles, and writes the audit log for create, update and delete.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models, transaction
from rest_framework import exceptions, permissions, viewsets

from dts.accounts import audit
from dts.accounts.models import Workspace
from dts.accounts.roles import Role, at_least
from dts.api.permissions import WorkspaceRolePermission


class WorkspaceScopedViewSet(viewsets.ModelViewSet):
    permission_classes = [WorkspaceRolePermission]
    # Path from the model to its Workspace, in ORM lookup syntax ("" when the model is Workspace).
    workspace_field: ClassVar[str] = "workspace"
    # Role per action; unlisted actions need a viewer to read and an operator to write.
    action_roles: ClassVar[dict[str, str]] = {}
    # Fields whose values never reach the audit log.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def get_queryset(self) -> models.QuerySet[Any]:
        queryset = super().get_queryset()
        user = self.request.user
        if user.is_superuser:
            return queryset
        member_of = Workspace.objects.visible_to(user).values("pk")
        lookup = f"{self.workspace_field}__in" if self.workspace_field else "pk__in"
        return queryset.filter(**{lookup: member_of})

    def required_role(self) -> str:
        if self.action in self.action_roles:
            return self.action_roles[self.action]
        return Role.VIEWER if self.request.method in permissions.SAFE_METHODS else Role.OPERATOR

    def workspace_of(self, obj: Any) -> Workspace:
        return _follow(obj, self.workspace_field)

    def check_workspace_role(self, workspace: Workspace) -> None:
        role = workspace.role_of(self.request.user)
        if role is None:
            # Not a member: the workspace might as well not exist.
            raise exceptions.NotFound("Workspace not found.")
        if not at_least(role, self.required_role()):
            raise exceptions.PermissionDenied(WorkspaceRolePermission.message)

    # --- audit ---------------------------------------------------------------------------------
    def perform_create(self, serializer: Any) -> None:
        workspace = serializer.validated_data.get("workspace")
        if workspace is not None:
            self.check_workspace_role(workspace)
        with transaction.atomic():
            instance = serializer.save(**self.extra_create_fields())
            after = audit.snapshot(instance, self.secret_fields)
            audit.record("create", actor=self.request.user, obj=instance, workspace=self.workspace_of(instance),
                         changes=audit.diff({}, after, self.secret_fields), remote_addr=audit.client_ip(self.request))

    def extra_create_fields(self) -> dict[str, Any]:
        return {}

    def perform_update(self, serializer: Any) -> None:
        old = type(serializer.instance).objects.get(pk=serializer.instance.pk)
        before = audit.snapshot(old, self.secret_fields)
        with transaction.atomic():
            instance = serializer.save()
            changed_secrets = audit.changed_secrets(old, instance, self.secret_fields)
            after = audit.snapshot(instance, self.secret_fields)
            changes = audit.diff(before, after, self.secret_fields, changed_secrets)
            audit.record("update", actor=self.request.user, obj=instance, workspace=self.workspace_of(instance),
                         changes=changes, remote_addr=audit.client_ip(self.request))

    def perform_destroy(self, instance: Any) -> None:
        workspace = self.workspace_of(instance)
        repr_, pk = str(instance), instance.pk
        with transaction.atomic():
            instance.delete()
            instance.pk = pk
            audit.record("delete", actor=self.request.user, obj=instance, workspace=workspace,
                         object_repr=repr_, remote_addr=audit.client_ip(self.request))

    def audit_action(self, action: str, instance: Any, changes: dict[str, Any] | None = None) -> None:
        """For custom actions (start, stop, check…): one line in the audit log."""
        audit.record(action, actor=self.request.user, obj=instance, workspace=self.workspace_of(instance),
                     changes=changes, remote_addr=audit.client_ip(self.request))


def _follow(obj: Any, path: str) -> Workspace:
    for part in filter(None, path.split("__")):
        obj = getattr(obj, part)
    return obj
