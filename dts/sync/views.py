"""Sync tasks: CRUD, start/stop/resume/restart, and what a running task reports."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dts.accounts.roles import Role
from dts.api.viewsets import WorkspaceScopedViewSet
from dts.api.waiting import WAIT_PARAMETER, wait_for, wait_seconds
from dts.monitor import views as monitor_views
from dts.sync.jobs import enqueue, run_task_precheck
from dts.sync.models import (
    ACTIVE,
    Checkpoint,
    InvalidTransition,
    SnapshotChunk,
    Status,
    SyncTask,
    TableProgress,
    TaskPrecheck,
)
from dts.sync.serializers import (
    CheckpointSerializer,
    QuarantinedRowSerializer,
    SyncTaskSerializer,
    TableProgressSerializer,
    TaskLogSerializer,
    TaskPrecheckSerializer,
    TaskRunSerializer,
)
from dts.sync.specs import spec_json


class SyncTaskViewSet(WorkspaceScopedViewSet):
    queryset = SyncTask.objects.select_related("workspace", "source", "target")
    serializer_class = SyncTaskSerializer
    filterset_fields = ["workspace", "status", "mode", "source", "target"]
    action_roles = {"start": Role.OPERATOR, "stop": Role.OPERATOR, "resume": Role.OPERATOR,
                    "restart": Role.OPERATOR, "precheck": Role.OPERATOR}

    @extend_schema(request=None, responses={200: TaskPrecheckSerializer, 202: TaskPrecheckSerializer},
                   parameters=[WAIT_PARAMETER])
    @action(detail=True, methods=["post"])
    def precheck(self, request: Request, pk: str | None = None) -> Response:
        """Check the source, the target and every table on a worker: each item with a status and a fix hint."""
        task = self.get_object()
        with transaction.atomic():
            check = TaskPrecheck.objects.create(task=task)
            transaction.on_commit(lambda: run_task_precheck.delay(check.pk))
        check = wait_for(check, wait_seconds(request))
        data = TaskPrecheckSerializer(check).data
        return Response(data, status=status.HTTP_200_OK if check.done else status.HTTP_202_ACCEPTED)

    @extend_schema(responses=TaskPrecheckSerializer(many=True))
    @action(detail=True, methods=["get"])
    def prechecks(self, request: Request, pk: str | None = None) -> Response:
        """Pre-checks of this task, newest first (poll here after a 202)."""
        return self._paged(self.get_object().prechecks.all(), TaskPrecheckSerializer)

    def extra_create_fields(self) -> dict[str, Any]:
        return {"created_by": self.request.user}

    def perform_create(self, serializer: Any) -> None:
        """A new task is pre-checked straight away; GET …/prechecks/ shows the outcome."""
        super().perform_create(serializer)
        check = TaskPrecheck.objects.create(task=serializer.instance)
        transaction.on_commit(lambda: run_task_precheck.delay(check.pk))

    def perform_destroy(self, instance: SyncTask) -> None:
        if instance.is_active:
            raise exceptions.ValidationError({"status": "Stop the task before deleting it."})
        super().perform_destroy(instance)

    def _started(self, task: SyncTask, action_name: str) -> Response:
        task.allocate_server_id()
        try:
            task.request_start(actor=self.request.user, action=action_name)
        except InvalidTransition as exc:
            raise exceptions.ValidationError({"status": str(exc)}) from None
        transaction.on_commit(lambda: enqueue(task))
        data = SyncTaskSerializer(task, context={"request": self.request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})

    @extend_schema(request=None, responses={202: SyncTaskSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Queue the task; it resumes from its checkpoint if it has one."""
        task = self.get_object()
        if task.is_active:
            raise exceptions.ValidationError({"status": f"The task is already {task.status}."})
        return self._started(task, "start")

    @extend_schema(request=None, responses={202: SyncTaskSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Run again from the last checkpoint after a stop or a failure."""
        task = self.get_object()
        if task.status not in (Status.STOPPED, Status.FAILED):
            raise exceptions.ValidationError({"status": "Only a stopped or failed task can be resumed."})
        return self._started(task, "resume")

    @extend_schema(request=None, responses={202: SyncTaskSerializer})
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk: str | None = None) -> Response:
        """Forget the checkpoint and progress and start from scratch (a new snapshot)."""
        task = self.get_object()
        if task.is_active:
            raise exceptions.ValidationError({"status": "Stop the task before restarting it from scratch."})
        with transaction.atomic():
            Checkpoint.objects.filter(task=task).delete()
            TableProgress.objects.filter(task=task).delete()
            SnapshotChunk.objects.filter(task=task).delete()
            return self._started(task, "restart")

    @extend_schema(request=None, responses={202: SyncTaskSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """Stop gracefully: the runner writes the batch in flight, saves the position, and stops."""
        task = self.get_object()
        if task.status not in ACTIVE:
            raise exceptions.ValidationError({"status": f"The task is not running ({task.status})."})
        task.request_stop(actor=request.user)
        return Response(SyncTaskSerializer(task, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=TaskRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request: Request, pk: str | None = None) -> Response:
        return self._paged(self.get_object().runs.all(), TaskRunSerializer)

    @extend_schema(responses=TaskLogSerializer(many=True))
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, pk: str | None = None) -> Response:
        return self._paged(self.get_object().logs.all(), TaskLogSerializer)

    @extend_schema(responses=TableProgressSerializer(many=True))
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        return Response(TableProgressSerializer(self.get_object().table_progress.all(), many=True).data)

    @extend_schema(responses=QuarantinedRowSerializer(many=True))
    @action(detail=True, methods=["get"])
    def quarantine(self, request: Request, pk: str | None = None) -> Response:
        return self._paged(self.get_object().quarantine.all(), QuarantinedRowSerializer)

    @extend_schema(responses=CheckpointSerializer)
    @action(detail=True, methods=["get"])
    def checkpoint(self, request: Request, pk: str | None = None) -> Response:
        checkpoint = Checkpoint.objects.filter(task=self.get_object()).first()
        if checkpoint is None:
            return Response({"phase": None, "position": None, "updated_at": None})
        return Response(CheckpointSerializer(checkpoint).data)

    @extend_schema(responses=dict, parameters=[monitor_views.SINCE])
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk: str | None = None) -> Response:
        """The monitor's last measurement (lag, state, rates, position) and 24-hour history, as
        /api/task-metrics/{id}/ answers it."""
        return Response(monitor_views.task_metrics(self.get_object(), request))

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def spec(self, request: Request, pk: str | None = None) -> Response:
        """The task as a JSON spec for `python -m connectors run` (passwords left out)."""
        return Response(spec_json(self.get_object(), with_passwords=False))

    def _paged(self, queryset: Any, serializer_class: Any) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)
