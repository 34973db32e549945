"""Sync tasks: CRUD, start/stop/resume/restart, and what a running task reports."""

from __future__ import annotations

import logging
from typing import Any

from celery.result import AsyncResult
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.pipeline.replay import ReplayRow, replay
from connectors.registry import sink_for, source_for
from connectors.transform import MappingError
from connectors.transform.preview import preview
from dts.accounts import audit
from dts.accounts.models import Workspace
from dts.accounts.roles import Role
from dts.api.viewsets import WorkspaceScopedViewSet
from dts.api.waiting import WAIT_PARAMETER, wait_for, wait_seconds
from dts.celery import app as celery_app
from dts.monitor import views as monitor_views
from dts.sync.jobs import enqueue, run_task_precheck, run_unsaved_precheck
from dts.sync.models import (
    ACTIVE,
    Checkpoint,
    DdlInboxItem,
    InvalidTransition,
    QuarantinedRow,
    SnapshotChunk,
    Status,
    SyncTask,
    TableProgress,
    TaskPrecheck,
)
from dts.sync.serializers import (
    CheckpointSerializer,
    DdlApproveSerializer,
    DdlInboxItemSerializer,
    PreviewSerializer,
    QuarantinedRowSerializer,
    ReplaySerializer,
    SyncTaskSerializer,
    TableProgressSerializer,
    TaskLogSerializer,
    TaskPrecheckSerializer,
    TaskRunSerializer,
)
from dts.sync.specs import spec_for, spec_json

PREVIEW_ROWS = 5
UNSAVED_PRECHECK_SALT = "dts.sync.precheck-unsaved"
log = logging.getLogger("dts.sync")


class SyncTaskViewSet(WorkspaceScopedViewSet):
    queryset = SyncTask.objects.select_related("workspace", "source", "target")
    serializer_class = SyncTaskSerializer
    filterset_fields = ["workspace", "status", "mode", "source", "target"]
    action_roles = {"start": Role.OPERATOR, "stop": Role.OPERATOR, "resume": Role.OPERATOR,
                    "restart": Role.OPERATOR, "precheck": Role.OPERATOR, "preview": Role.OPERATOR,
                    "ddl_approve": Role.OPERATOR, "ddl_ignore": Role.OPERATOR,
                    "quarantine_replay": Role.OPERATOR, "precheck_unsaved": Role.OPERATOR,
                    "precheck_unsaved_job": Role.OPERATOR}

    @extend_schema(request=None, responses={200: TaskPrecheckSerializer, 202: TaskPrecheckSerializer},
                   parameters=[WAIT_PARAMETER])
    @action(detail=True, methods=["post"])
    def precheck(self, request: Request, pk: str | None = None) -> Response:
        """Check the source, the target and every table on a worker: each item with a status and a fix hint."""
        task = self.get_object()
        with transaction.atomic():
            check = TaskPrecheck.objects.create(task=task)
            self.audit_action("precheck", task)
            transaction.on_commit(lambda: run_task_precheck.delay(check.pk))
        check = wait_for(check, wait_seconds(request))
        data = TaskPrecheckSerializer(check).data
        return Response(data, status=status.HTTP_200_OK if check.done else status.HTTP_202_ACCEPTED)

    # --- pre-check of a task not created yet --------------------------------------------------------
    @extend_schema(request=PreviewSerializer, responses={200: dict, 202: dict}, parameters=[WAIT_PARAMETER],
                   operation_id="tasks_precheck_unsaved_create")
    @action(detail=False, methods=["post"], url_path="precheck", url_name="precheck-unsaved")
    def precheck_unsaved(self, request: Request) -> Response:
        """Pre-check a task create body before creating it (the wizard's last step): the same items as
        POST /api/tasks/{id}/precheck/, on a worker. Nothing is saved; the answer (200 with the report, or
        202 while it runs) has a `url` to poll for about an hour."""
        serializer = PreviewSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = data["workspace"]
        self.check_workspace_role(workspace)
        body = {"name": data.get("name") or "precheck", "source": data["source"].pk, "target": data["target"].pk,
                "mode": data.get("mode") or "full+incremental", "tables": data.get("tables") or [],
                "options": data.get("options") or {}, "mapping": data.get("mapping") or {}}
        job = run_unsaved_precheck.delay(body)
        audit.record("precheck", actor=request.user, workspace=workspace, object_repr=f"unsaved task {body['name']}",
                     changes={"source": data["source"].name, "target": data["target"].name,
                              "tables": len(body["tables"])}, remote_addr=audit.client_ip(request))
        token = signing.dumps({"job": job.id, "workspace": workspace.pk}, salt=UNSAVED_PRECHECK_SALT)
        return self._unsaved_precheck_response(request, job, token, wait_seconds(request))

    @extend_schema(request=None, responses=dict, operation_id="tasks_precheck_unsaved_retrieve")
    @action(detail=False, methods=["get"], url_path=r"precheck/(?P<token>[-\w:]+)", url_name="precheck-unsaved-job")
    def precheck_unsaved_job(self, request: Request, token: str = "") -> Response:
        """Poll a pre-check of an unsaved task (the `url` of the POST's answer)."""
        try:
            ref = signing.loads(token, salt=UNSAVED_PRECHECK_SALT, max_age=settings.CELERY_RESULT_EXPIRES)
        except signing.BadSignature:
            raise exceptions.NotFound("No such pre-check (or it expired: run it again).") from None
        workspace = Workspace.objects.filter(pk=ref["workspace"]).first()
        if workspace is None:
            raise exceptions.NotFound("No such pre-check.")
        self.check_workspace_role(workspace)
        return self._unsaved_precheck_response(request, AsyncResult(ref["job"], app=celery_app), token, 0.0)

    def _unsaved_precheck_response(self, request: Request, job: AsyncResult, token: str, wait: float) -> Response:
        job = wait_for(_CeleryJob(job), wait).job
        url = request.build_absolute_uri(reverse("synctask-precheck-unsaved-job", kwargs={"token": token}))
        if not job.ready():
            state = "running" if job.state == "STARTED" else "queued"
            return Response({"id": token, "url": url, "status": state, "result": None, "error": ""},
                            status=status.HTTP_202_ACCEPTED, headers={"Location": url})
        outcome = job.result if job.successful() else {"status": "failed", "result": None,
                                                       "error": f"the pre-check job failed: {job.result!r}"}
        return Response({"id": token, "url": url, **outcome})

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
        started = instance.server_id is not None  # allocated on the first start: no slot before it
        if instance.source.engine == "postgresql" and started and self.request.query_params.get("keep_slot") != "true":
            # The task's slot holds WAL on the source until it is dropped (invariant 8). If that fails the
            # task stays, so the slot is not forgotten; ?keep_slot=true deletes anyway (then it is an orphan).
            source = source_for(ConnectionConfig.from_dict(spec_json(instance, with_passwords=True)["source"]))
            try:
                dropped: list[str] = getattr(source, "release", list)()
            except ConnectorError as exc:
                raise exceptions.ValidationError({"source": f"could not drop the task's replication slot: {exc}. "
                                                            "Delete with ?keep_slot=true to keep the slot."}) from None
            finally:
                source.close()
            log.info("task %s deleted: dropped %s", instance.pk, ", ".join(dropped) or "nothing")
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

    # --- preview ---------------------------------------------------------------------------------
    @extend_schema(request=PreviewSerializer, responses=dict)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """A few rows of each table read from the source, as they would land at the target, with the
        target schema. The body is a task create body; nothing is saved.

        Reads the source from this request (a bounded sample, connect timeouts apply) so the console
        shows the result at once."""
        serializer = PreviewSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        self.check_workspace_role(serializer.validated_data["workspace"])
        spec = serializer.spec
        assert spec is not None
        try:
            result = preview(spec, source_for, rows=PREVIEW_ROWS)
        except MappingError as exc:
            raise exceptions.ValidationError({"mapping": [str(exc)]}) from None
        except ConnectorError as exc:
            raise exceptions.ValidationError({"source": [f"{exc} {exc.hint}".strip()]}) from None
        return Response(result)

    # --- DDL inbox --------------------------------------------------------------------------------
    @extend_schema(responses=DdlInboxItemSerializer(many=True),
                   parameters=[OpenApiParameter("status", str, description="pending, applied, ignored or failed")])
    @action(detail=True, methods=["get"], url_path="ddl-inbox")
    def ddl_inbox(self, request: Request, pk: str | None = None) -> Response:
        """DDL waiting for review (ddl_policy 'review') and past decisions, newest first."""
        items = self.get_object().ddl_inbox.select_related("decided_by")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in DdlInboxItem.Status.values:
                raise exceptions.ValidationError({"status": f"one of {', '.join(DdlInboxItem.Status.values)}"})
            items = items.filter(status=wanted)
        return Response(DdlInboxItemSerializer(items, many=True).data)

    def filter_queryset(self, queryset: Any) -> Any:
        # ?status= on the inbox is the items' status, not the task list's filter.
        if self.action == "ddl_inbox":
            return queryset
        return super().filter_queryset(queryset)

    def _inbox_item(self, item_id: str) -> DdlInboxItem:
        task = self.get_object()
        item = task.ddl_inbox.filter(pk=item_id).first()
        if item is None:
            raise exceptions.NotFound("No such DDL in this task's inbox.")
        return item

    @extend_schema(request=DdlApproveSerializer, responses=DdlInboxItemSerializer)
    @action(detail=True, methods=["post"], url_path=r"ddl-inbox/(?P<item_id>\d+)/approve")
    def ddl_approve(self, request: Request, pk: str | None = None, item_id: str = "") -> Response:
        """Apply the DDL at the target (optionally an edited statement); the table then resumes."""
        item = self._inbox_item(item_id)
        body = DdlApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            item.decide(DdlInboxItem.Decision.APPLY, request.user, body.validated_data.get("target_statement"))
        except InvalidTransition as exc:
            raise exceptions.ValidationError({"status": str(exc)}) from None
        return Response(DdlInboxItemSerializer(item).data)

    @extend_schema(request=None, responses=DdlInboxItemSerializer)
    @action(detail=True, methods=["post"], url_path=r"ddl-inbox/(?P<item_id>\d+)/ignore")
    def ddl_ignore(self, request: Request, pk: str | None = None, item_id: str = "") -> Response:
        """Leave the target as it is; the table resumes, its rows cut to the target's columns."""
        item = self._inbox_item(item_id)
        try:
            item.decide(DdlInboxItem.Decision.IGNORE, request.user)
        except InvalidTransition as exc:
            raise exceptions.ValidationError({"status": str(exc)}) from None
        return Response(DdlInboxItemSerializer(item).data)

    # --- quarantine -------------------------------------------------------------------------------
    @extend_schema(responses=QuarantinedRowSerializer(many=True),
                   parameters=[OpenApiParameter("table", str, description="Only rows of this source db.table")])
    @action(detail=True, methods=["get"])
    def quarantine(self, request: Request, pk: str | None = None) -> Response:
        rows = self.get_object().quarantine.all()
        table = request.query_params.get("table")
        if table:
            rows = rows.filter(source_table=table)
        return self._paged(rows, QuarantinedRowSerializer)

    def _quarantined(self, row_id: str) -> QuarantinedRow:
        row = self.get_object().quarantine.filter(pk=row_id).first()
        if row is None:
            raise exceptions.NotFound("No such row in this task's quarantine.")
        return row

    @extend_schema(request=QuarantinedRowSerializer, responses=QuarantinedRowSerializer)
    @action(detail=True, methods=["patch", "delete"], url_path=r"quarantine/(?P<row_id>\d+)")
    def quarantine_row(self, request: Request, pk: str | None = None, row_id: str = "") -> Response:
        """PATCH {"row": {...}} edits a quarantined row before a replay; DELETE discards it (both audited)."""
        row = self._quarantined(row_id)
        task = row.task
        if request.method == "DELETE":
            with transaction.atomic():
                self.audit_action("quarantine_discard", task, {"row": [row.pk, None], "table": row.source_table,
                                                               "key": row.key})
                row.delete()
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = QuarantinedRowSerializer(row, data={"row": request.data.get("row")}, partial=True)
        serializer.is_valid(raise_exception=True)
        changed = {name: [row.row.get(name), value] for name, value in serializer.validated_data["row"].items()
                   if row.row.get(name) != value}
        with transaction.atomic():
            row.row = {**row.row, **serializer.validated_data["row"]}
            row.save(update_fields=["row"])
            self.audit_action("quarantine_edit", task, {"row": row.pk, "table": row.source_table, "columns": changed})
        return Response(QuarantinedRowSerializer(row).data)

    @extend_schema(request=ReplaySerializer, responses=dict)
    @action(detail=True, methods=["post"], url_path="quarantine/replay")
    def quarantine_replay(self, request: Request, pk: str | None = None) -> Response:
        """Write quarantined rows to the target through the sink; replayed rows leave the quarantine.

        Answers {"replayed": n, "failed": [{"id", "error"}]}; failed rows stay, with the new error."""
        task = self.get_object()
        body = ReplaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = task.quarantine.all()
        if not body.validated_data.get("all"):
            wanted = set(body.validated_data["ids"])
            rows = rows.filter(pk__in=wanted)
            unknown = wanted - set(rows.values_list("pk", flat=True))
            if unknown:
                raise exceptions.ValidationError({"ids": [f"not in this task's quarantine: "
                                                          f"{', '.join(map(str, sorted(unknown)))}"]})
        items = [ReplayRow(row.pk, row.source_table, row.row, row.stage) for row in rows.order_by("id")]
        try:
            result = replay(spec_for(task), items, source_for, sink_for)
        except ConnectorError as exc:
            raise exceptions.ValidationError({"target": [f"{exc} {exc.hint}".strip()]}) from None
        with transaction.atomic():
            QuarantinedRow.objects.filter(task=task, pk__in=result.replayed).delete()
            for row_id, error in result.failed:
                QuarantinedRow.objects.filter(pk=row_id).update(error=error)
            self.audit_action("quarantine_replay", task, {"replayed": result.replayed,
                                                          "failed": [row_id for row_id, _ in result.failed]})
        return Response({"replayed": len(result.replayed),
                         "failed": [{"id": row_id, "error": error} for row_id, error in result.failed]})

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"], url_path="quarantine/counts")
    def quarantine_counts(self, request: Request, pk: str | None = None) -> Response:
        """Quarantined rows per source table: {"db.table": n}."""
        counts = self.get_object().quarantine.values("source_table").annotate(n=Count("id")).order_by("source_table")
        return Response({row["source_table"]: row["n"] for row in counts})

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


class _CeleryJob:
    """A Celery result as the `done`/`refresh_from_db` job that dts.api.waiting.wait_for polls."""

    def __init__(self, job: AsyncResult) -> None:
        self.job = job

    @property
    def done(self) -> bool:
        return bool(self.job.ready())

    def refresh_from_db(self) -> None:
        """ready() asks the result backend each time: nothing to reload."""
