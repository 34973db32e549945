"""Workspaces and their members, the caller's API tokens, the audit log."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dts.accounts import audit
from dts.accounts.models import ApiToken, AuditLog, Membership, Workspace
from dts.accounts.roles import Role
from dts.accounts.serializers import (
    ApiTokenSerializer,
    AuditLogSerializer,
    MembershipSerializer,
    MeSerializer,
    NewApiTokenSerializer,
    WorkspaceSerializer,
)
from dts.api.viewsets import WorkspaceScopedViewSet


class WorkspaceViewSet(WorkspaceScopedViewSet):
    """Any signed-in user may create a workspace and becomes its owner; only owners change it."""

    queryset = Workspace.objects.all()
    serializer_class = WorkspaceSerializer
    workspace_field = ""
    action_roles = {"update": Role.OWNER, "partial_update": Role.OWNER, "destroy": Role.OWNER}

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic():
            workspace = serializer.save()
            Membership.objects.create(workspace=workspace, user=self.request.user, role=Role.OWNER)
            audit.record("create", actor=self.request.user, obj=workspace,
                         changes=audit.diff({}, audit.snapshot(workspace)), remote_addr=audit.client_ip(self.request))


class MembershipViewSet(WorkspaceScopedViewSet):
    """/api/workspaces/{workspace_pk}/members/: everyone in the workspace reads, owners change."""

    queryset = Membership.objects.select_related("user", "workspace")
    serializer_class = MembershipSerializer
    action_roles = {"create": Role.OWNER, "update": Role.OWNER, "partial_update": Role.OWNER,
                    "destroy": Role.OWNER}

    def workspace(self) -> Workspace:
        return get_object_or_404(Workspace.objects.visible_to(self.request.user), pk=self.kwargs["workspace_pk"])

    def get_queryset(self) -> Any:
        return super().get_queryset().filter(workspace_id=self.kwargs["workspace_pk"])

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if "workspace_pk" in self.kwargs:
            context["workspace"] = self.workspace()
        return context

    def perform_create(self, serializer: Any) -> None:
        workspace = self.workspace()
        self.check_workspace_role(workspace)
        serializer.validated_data["workspace"] = workspace
        super().perform_create(serializer)

    def perform_destroy(self, instance: Membership) -> None:
        if instance.role == Role.OWNER and instance.workspace.memberships.filter(role=Role.OWNER).count() == 1:
            raise exceptions.ValidationError({"username": "The last owner cannot be removed."})
        super().perform_destroy(instance)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens. The key is returned once, by create; delete revokes."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> Any:
        return ApiToken.objects.filter(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = ApiToken.issue(request.user, serializer.validated_data["name"],
                                    serializer.validated_data.get("expires_at"))
        audit.record("create", actor=request.user, obj=token, remote_addr=audit.client_ip(request),
                     changes={"name": [None, token.name]})
        token.key = key  # type: ignore[attr-defined]
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        instance.revoke()
        audit.record("revoke", actor=self.request.user, obj=instance, remote_addr=audit.client_ip(self.request))


class AuditLogFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_name")

    class Meta:
        model = AuditLog
        fields = ["workspace", "action", "object_type", "object_id", "actor", "since", "until"]


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet):
    """Entries of the caller's workspaces, plus the caller's own entries outside any workspace."""

    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilter

    def get_queryset(self) -> Any:
        user = self.request.user
        queryset = AuditLog.objects.all()
        if user.is_superuser:
            return queryset
        visible = Workspace.objects.visible_to(user)
        return queryset.filter(Q(workspace__in=visible) | Q(workspace__isnull=True, actor=user))


class MeView(APIView):
    """The signed-in user and their workspaces with roles."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
