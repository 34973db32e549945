from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from dts.accounts.models import ApiToken, AuditLog, Membership, Workspace
from dts.accounts.roles import Role

User = get_user_model()


class WorkspaceSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "created_at", "my_role"]
        read_only_fields = ["created_at"]

    def get_my_role(self, obj: Workspace) -> str | None:
        return obj.role_of(self.context["request"].user)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", queryset=User.objects.all())
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        workspace = self.context["workspace"]
        user = attrs.get("user")
        if self.instance is None and Membership.objects.filter(workspace=workspace, user=user).exists():
            raise serializers.ValidationError({"username": "This user is already a member of the workspace."})
        if self.instance is not None and "user" in attrs and attrs["user"] != self.instance.user:
            raise serializers.ValidationError({"username": "The member cannot be changed; remove and add instead."})
        if (self.instance is not None and self.instance.role == Role.OWNER
                and attrs.get("role", Role.OWNER) != Role.OWNER
                and workspace.memberships.filter(role=Role.OWNER).count() == 1):
            raise serializers.ValidationError(
                {"role": "The last owner cannot be demoted; make another member owner first."})
        return attrs


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]


class NewApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = ["id", "at", "actor_name", "action", "workspace", "object_type", "object_id", "object_repr",
                  "changes", "remote_addr"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    workspaces = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_superuser", "workspaces"]

    def get_workspaces(self, user: Any) -> list[dict[str, Any]]:
        memberships = Membership.objects.filter(user=user).select_related("workspace")
        return [{"id": m.workspace_id, "name": m.workspace.name, "role": m.role} for m in memberships]
