"""Alert channels, rules, events and deliveries, and the per-task metrics the monitor keeps."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dts.accounts.roles import Role
from dts.api.viewsets import WorkspaceScopedViewSet
from dts.monitor import delivery, history, lag
from dts.monitor.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule
from dts.monitor.serializers import (
    AlertChannelSerializer,
    AlertDeliverySerializer,
    AlertEventSerializer,
    AlertRuleSerializer,
)
from dts.sync.lease import redis_client
from dts.sync.models import SyncTask

SINCE = OpenApiParameter("since", float, description="Only history points from this time (epoch seconds).")


class AlertChannelViewSet(WorkspaceScopedViewSet):
    queryset = AlertChannel.objects.select_related("workspace")
    serializer_class = AlertChannelSerializer
    secret_fields = ("secret",)
    filterset_fields = ["workspace", "kind", "enabled"]
    action_roles = {"test": Role.OPERATOR}

    def extra_create_fields(self) -> dict[str, Any]:
        return {"created_by": self.request.user}

    @extend_schema(request=None, responses=AlertDeliverySerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test message now (short timeout, no retry) and answer how it went."""
        channel = self.get_object()
        outcome = delivery.send_test(channel)
        self.audit_action("test", channel, {"status": outcome.status, "http_status": outcome.http_status})
        return Response(AlertDeliverySerializer(outcome).data)


class AlertRuleViewSet(WorkspaceScopedViewSet):
    queryset = AlertRule.objects.select_related("workspace", "task").prefetch_related("channels")
    serializer_class = AlertRuleSerializer
    filterset_fields = ["workspace", "task", "compare_task", "kind", "severity", "enabled"]

    def extra_create_fields(self) -> dict[str, Any]:
        return {"created_by": self.request.user}


class AlertEventViewSet(WorkspaceScopedViewSet, viewsets.ReadOnlyModelViewSet):
    """Written by the delay monitor only."""

    queryset = AlertEvent.objects.select_related("rule", "task")
    serializer_class = AlertEventSerializer
    workspace_field = "rule__workspace"
    filterset_fields = {"state": ["exact"], "task": ["exact"], "compare_task": ["exact"], "rule": ["exact"],
                        "rule__workspace": ["exact"]}
    http_method_names = ["get", "head", "options"]


class AlertDeliveryViewSet(WorkspaceScopedViewSet, viewsets.ReadOnlyModelViewSet):
    queryset = AlertDelivery.objects.select_related("channel")
    serializer_class = AlertDeliverySerializer
    workspace_field = "channel__workspace"
    filterset_fields = ["channel", "event", "status", "notice"]
    http_method_names = ["get", "head", "options"]


class TaskMetricsViewSet(WorkspaceScopedViewSet, viewsets.ReadOnlyModelViewSet):
    """/api/task-metrics/{task_id}/: the last measurement of a task and its 24-hour history (10 s points)."""

    queryset = SyncTask.objects.select_related("workspace")
    filterset_fields = ["workspace", "status"]
    http_method_names = ["get", "head", "options"]

    def get_serializer_class(self) -> Any:
        return None  # answers are built from Redis, not from a model's fields

    @extend_schema(responses=dict, operation_id="task_metrics_list")
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The last measurement of every task the caller can see."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        tasks = list(page if page is not None else self.get_queryset())
        measured = lag.load_many(redis_client(), [task.pk for task in tasks])
        data = [{"task": task.pk, "name": task.name, "status": task.status, "current": measured.get(task.pk)}
                for task in tasks]
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(responses=dict, parameters=[SINCE])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(task_metrics(self.get_object(), request))


def task_metrics(task: SyncTask, request: Request) -> dict[str, Any]:
    """A task's last measurement and history: /api/task-metrics/{id}/ and /api/tasks/{id}/metrics/."""
    since_text = request.query_params.get("since")
    try:
        since = float(since_text) if since_text else None
    except ValueError:
        raise exceptions.ValidationError({"since": "Give a time in epoch seconds."}) from None
    client = redis_client()
    return {
        "task": task.pk, "name": task.name, "status": task.status,
        "current": lag.load(client, task.pk),
        "resolution_seconds": history.RESOLUTION_SECONDS,
        "history": history.read(client, task.pk, since),
    }
