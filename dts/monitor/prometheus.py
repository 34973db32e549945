"""/metrics: per-task gauges in the Prometheus text exposition format, written by hand.

A scraper authenticates with an API token ('Authorization: Bearer dts_…') and sees the tasks
of its user's workspaces; with DTS_METRICS_PUBLIC=True the endpoint is open and lists every task.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dts.accounts.authentication import user_for_key
from dts.accounts.models import Workspace
from dts.monitor import conf, lag
from dts.monitor.models import EventState
from dts.sync.lease import redis_client
from dts.sync.models import Status, SyncTask
from dts.sync.observer import metrics_key

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

GAUGES: list[tuple[str, str, str]] = [
    ("dts_task_lag_seconds", "gauge", "Seconds the task is behind its source; 0 when caught up, absent when unknown."),
    ("dts_task_status", "gauge", "1 for the task's current status, 0 for the others."),
    ("dts_task_rows_applied_total", "counter", "Rows applied to the target by the task's current runner."),
    ("dts_task_events_applied_total", "counter", "Change events applied by the task's current runner."),
    ("dts_task_rows_per_second", "gauge", "Rows applied per second at the last evaluation; absent when unknown."),
    ("dts_task_events_per_second", "gauge", "Change events applied per second at the last evaluation."),
    ("dts_alerts_firing", "gauge", "Alert events currently firing for the task."),
]


def _caller(request: HttpRequest) -> Any | None:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() in ("bearer", "token"):
        return user_for_key(parts[1])
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _visible_tasks(user: Any | None) -> QuerySet[SyncTask]:
    tasks = SyncTask.objects.select_related("workspace").order_by("pk")
    if user is None:
        return tasks
    return tasks.filter(workspace__in=Workspace.objects.visible_to(user))


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(task: SyncTask, **extra: str) -> str:
    pairs = {"task_id": task.pk, "task": task.name, "workspace": task.workspace.name} | extra
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def exposition(queryset: QuerySet[SyncTask]) -> str:
    tasks = list(queryset.annotate(firing=Count("alert_events", filter=Q(alert_events__state=EventState.FIRING))))
    client = redis_client()
    measured = lag.load_many(client, [task.pk for task in tasks])
    pipe = client.pipeline()
    for task in tasks:
        pipe.hmget(metrics_key(task.pk), ["rows_applied", "events_applied"])
    counters = pipe.execute() if tasks else []
    samples: dict[str, list[str]] = {name: [] for name, _, _ in GAUGES}
    for task, (rows, events) in zip(tasks, counters, strict=True):
        current = measured.get(task.pk) or {}
        # The same measurement as the API's and the console's (dts.monitor.lag), so they all agree.
        for name, field in (("dts_task_lag_seconds", "lag_seconds"), ("dts_task_rows_per_second", "rows_per_second"),
                            ("dts_task_events_per_second", "events_per_second")):
            if current.get(field) is not None:
                samples[name].append(f"{name}{_labels(task)} {_number(current[field])}")
        for status in Status.values:
            samples["dts_task_status"].append(
                f"dts_task_status{_labels(task, status=status)} {1 if task.status == status else 0}")
        if rows is not None:
            samples["dts_task_rows_applied_total"].append(
                f"dts_task_rows_applied_total{_labels(task)} {_number(float(rows))}")
        if events is not None:
            samples["dts_task_events_applied_total"].append(
                f"dts_task_events_applied_total{_labels(task)} {_number(float(events))}")
        samples["dts_alerts_firing"].append(f"dts_alerts_firing{_labels(task)} {getattr(task, 'firing', 0)}")
    lines: list[str] = []
    for name, kind, help_text in GAUGES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples[name]]
    return "\n".join(lines) + "\n"


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    user = None
    if not conf.metrics_public():
        user = _caller(request)
        if user is None:
            response = HttpResponse("Authentication required: send 'Authorization: Bearer <API token>'.\n",
                                    status=401, content_type="text/plain; charset=utf-8")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(exposition(_visible_tasks(user)), content_type=CONTENT_TYPE)
