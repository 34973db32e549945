"""The REST API: one router, every resource workspace-scoped."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from dts.accounts.views import ApiTokenViewSet, AuditLogViewSet, MembershipViewSet, MeView, WorkspaceViewSet
from dts.compare.views import CompareRunViewSet, CompareTaskViewSet, RepairRunViewSet
from dts.datasources.views import DatasourceJobViewSet, DatasourceViewSet
from dts.monitor.views import (
    AlertChannelViewSet,
    AlertDeliveryViewSet,
    AlertEventViewSet,
    AlertRuleViewSet,
    TaskMetricsViewSet,
)
from dts.sync.views import SyncTaskViewSet

router = DefaultRouter()
router.register("workspaces", WorkspaceViewSet)
router.register(r"workspaces/(?P<workspace_pk>\d+)/members", MembershipViewSet, basename="membership")
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("audit-log", AuditLogViewSet, basename="auditlog")
router.register("datasources", DatasourceViewSet)
router.register("datasource-jobs", DatasourceJobViewSet)
router.register("tasks", SyncTaskViewSet)
router.register("compare-tasks", CompareTaskViewSet)
router.register("compare-runs", CompareRunViewSet)
router.register("repair-runs", RepairRunViewSet)
router.register("alert-channels", AlertChannelViewSet)
router.register("alert-rules", AlertRuleViewSet)
router.register("alert-events", AlertEventViewSet)
router.register("alert-deliveries", AlertDeliveryViewSet)
router.register("task-metrics", TaskMetricsViewSet, basename="taskmetrics")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("", include(router.urls)),
]
