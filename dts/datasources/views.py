"""Datasources: CRUD, pre-flight check and catalog. Checks and discovery run on a worker."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dts.accounts.roles import Role
from dts.api.viewsets import WorkspaceScopedViewSet
from dts.api.waiting import WAIT_PARAMETER, wait_for, wait_seconds
from dts.datasources.jobs import run_datasource_job
from dts.datasources.models import Datasource, DatasourceJob
from dts.datasources.serializers import DatasourceJobSerializer, DatasourceSerializer


class DatasourceViewSet(WorkspaceScopedViewSet):
    queryset = Datasource.objects.select_related("workspace")
    serializer_class = DatasourceSerializer
    secret_fields = ("password",)
    filterset_fields = ["workspace", "engine"]
    action_roles = {"check": Role.OPERATOR, "catalog": Role.VIEWER}

    def extra_create_fields(self) -> dict[str, Any]:
        return {"created_by": self.request.user}

    def _enqueue(self, datasource: Datasource, kind: str) -> DatasourceJob:
        with transaction.atomic():
            job = DatasourceJob.objects.create(datasource=datasource, kind=kind, requested_by=self.request.user)
            transaction.on_commit(lambda: run_datasource_job.delay(job.pk))
        return job

    def _job_response(self, job: DatasourceJob, request: Request) -> Response:
        job = wait_for(job, wait_seconds(request))
        data = DatasourceJobSerializer(job, context={"request": request}).data
        headers = {"Location": data["url"]}
        return Response(data, status=status.HTTP_200_OK if job.done else status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(request=None, responses={200: DatasourceJobSerializer, 202: DatasourceJobSerializer},
                   parameters=[WAIT_PARAMETER])
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        """Run every pre-flight check of the engine; each item has a status and, when not passed, a fix hint."""
        datasource = self.get_object()
        job = self._enqueue(datasource, DatasourceJob.Kind.CHECK)
        self.audit_action("check", datasource)
        return self._job_response(job, request)

    @extend_schema(responses={200: DatasourceJobSerializer, 202: DatasourceJobSerializer},
                   parameters=[WAIT_PARAMETER,
                               OpenApiParameter("refresh", bool, description="Discover again instead of "
                                                "answering the last catalog.")])
    @action(detail=True, methods=["get"])
    def catalog(self, request: Request, pk: str | None = None) -> Response:
        """Databases, tables, columns with types, primary keys and row estimates (the last discovery, or a new one)."""
        datasource = self.get_object()
        refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes")
        latest = (datasource.jobs.filter(kind=DatasourceJob.Kind.DISCOVER, status=DatasourceJob.Status.SUCCEEDED)
                  .first())
        if latest is not None and not refresh:
            return Response(DatasourceJobSerializer(latest, context={"request": request}).data)
        return self._job_response(self._enqueue(datasource, DatasourceJob.Kind.DISCOVER), request)


class DatasourceJobViewSet(WorkspaceScopedViewSet, viewsets.ReadOnlyModelViewSet):
    """Check and discovery jobs, to poll after a 202."""

    queryset = DatasourceJob.objects.select_related("datasource__workspace")
    serializer_class = DatasourceJobSerializer
    workspace_field = "datasource__workspace"
    filterset_fields = ["datasource", "kind", "status"]
    http_method_names = ["get", "head", "options"]
