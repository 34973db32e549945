"""Compare tasks, runs, differences and repairs. Thin: check, change state, enqueue by id, answer 202."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dts.accounts.roles import Role
from dts.api.viewsets import WorkspaceScopedViewSet
from dts.compare.jobs import enqueue_run, run_repair
from dts.compare.models import CompareRun, CompareTask, DiffKind, RepairRun, RunStatus
from dts.compare.serializers import (
    CompareRunSerializer,
    CompareTaskSerializer,
    DiffRecordSerializer,
    RepairRequestSerializer,
    RepairRunSerializer,
)

OPERATOR = cast(str, Role.OPERATOR)


class CompareTaskViewSet(WorkspaceScopedViewSet):
    queryset = CompareTask.objects.select_related("workspace", "source", "target", "sync_task")
    serializer_class = CompareTaskSerializer
    filterset_fields = ["workspace", "sync_task", "mode"]
    action_roles = {"run": OPERATOR}

    def extra_create_fields(self) -> dict[str, Any]:
        return {"created_by": self.request.user}

    @extend_schema(request=None, responses={202: CompareRunSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Queue a run now; poll /api/compare-runs/{id}/ for its progress."""
        task = self.get_object()
        if task.runs.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            raise exceptions.ValidationError({"status": "A run of this compare task is already queued or running."})
        with transaction.atomic():
            run = enqueue_run(task)
            self.audit_action("compare run", task, {"run": [None, run.pk]})
        return Response(CompareRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ReadOnlyWithActions(WorkspaceScopedViewSet):
    """Created by jobs, never through POST to the list; deleted with their compare task."""

    http_method_names: ClassVar[list[str]] = ["get", "post", "head", "options"]  # type: ignore[misc]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.MethodNotAllowed("POST")


class CompareRunViewSet(ReadOnlyWithActions):
    queryset = CompareRun.objects.select_related("compare_task__workspace")
    serializer_class = CompareRunSerializer
    workspace_field = "compare_task__workspace"
    filterset_fields = ["compare_task", "status"]
    action_roles = {"stop": OPERATOR, "repair": OPERATOR}

    @extend_schema(request=None, responses={202: CompareRunSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        if not run.request_stop(actor=request.user):
            raise exceptions.ValidationError({"status": f"The run is already {run.status}."})
        run.refresh_from_db()
        return Response(CompareRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=DiffRecordSerializer(many=True), parameters=[
        OpenApiParameter("table", str, description='Target table, "db.table"'),
        OpenApiParameter("kind", str, enum=list(DiffKind.values))])
    @action(detail=True, methods=["get"])
    def diffs(self, request: Request, pk: str | None = None) -> Response:
        """The run's differences, paginated; filter by ?table= and ?kind=."""
        records = self.get_object().diffs.all()
        table, kind = request.query_params.get("table"), request.query_params.get("kind")
        if kind and kind not in DiffKind.values:
            raise exceptions.ValidationError({"kind": f"must be one of {', '.join(DiffKind.values)}"})
        if table:
            records = records.filter(table=table)
        if kind:
            records = records.filter(kind=kind)
        page = self.paginate_queryset(records)
        return self.get_paginated_response(DiffRecordSerializer(page, many=True).data)

    @extend_schema(request=RepairRequestSerializer, responses={202: RepairRunSerializer})
    @action(detail=True, methods=["post"])
    def repair(self, request: Request, pk: str | None = None) -> Response:
        """Repair the selected (or all) differences through the sink, or with apply=false only produce SQL."""
        run = self.get_object()
        if run.status != RunStatus.COMPLETED:
            raise exceptions.ValidationError({"status": "Only a completed run's differences can be repaired."})
        body = RepairRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data.get("diff_ids") or []
        everything = bool(body.validated_data.get("all"))
        if not everything:
            known = set(run.diffs.filter(pk__in=ids).values_list("pk", flat=True))
            unknown = sorted(set(ids) - known)
            if unknown:
                raise exceptions.ValidationError({"diff_ids": f"not differences of this run: {unknown}"})
        with transaction.atomic():
            job = RepairRun.objects.create(compare_run=run, apply=body.validated_data["apply"], diff_ids=ids,
                                           all_diffs=everything, created_by=request.user,
                                           requested=run.diffs.count() if everything else len(set(ids)))
            self.audit_action("compare repair", run, {"repair": [None, job.pk], "apply": [None, job.apply]})
            transaction.on_commit(lambda: run_repair.apply_async(args=[job.pk], queue="compare"))
        return Response(RepairRunSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RepairRunViewSet(ReadOnlyWithActions):
    queryset = RepairRun.objects.select_related("compare_run__compare_task__workspace")
    serializer_class = RepairRunSerializer
    workspace_field = "compare_run__compare_task__workspace"
    filterset_fields = ["compare_run", "status"]
    http_method_names: ClassVar[list[str]] = ["get", "head", "options"]  # type: ignore[misc]

    @extend_schema(responses={(200, "text/plain"): str})
    @action(detail=True, methods=["get"])
    def sql(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The repair as SQL statements for review (a repair requested with apply=false)."""
        job = self.get_object()
        if job.apply:
            raise exceptions.ValidationError({"apply": "This repair was applied; request one with apply=false "
                                                       "for SQL."})
        if job.status != RunStatus.COMPLETED:
            raise exceptions.ValidationError({"status": f"The repair is {job.status}; the SQL is ready when it "
                                                        "has completed."})
        return HttpResponse(job.sql, content_type="text/plain; charset=utf-8")
