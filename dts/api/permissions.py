"""Role checks for workspace-owned objects; the queryset has already hidden what is not yours."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

from dts.accounts.roles import at_least


class WorkspaceRolePermission(permissions.IsAuthenticated):
    """The caller's role in the object's workspace must reach the role the action requires."""

    message = "Your role in this workspace does not allow this action."

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        workspace = view.workspace_of(obj)
        return at_least(workspace.role_of(request.user), view.required_role())
