"""Datasources (where data lives) and the quick jobs run against them: check and discover."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from connectors.config import ConnectionConfig
from dts.accounts.models import Workspace
from dts.fields import EncryptedTextField


class Engine(models.TextChoices):
    MYSQL = "mysql", "MySQL / MariaDB"
    POSTGRESQL = "postgresql", "PostgreSQL"
    MONGODB = "mongodb", "MongoDB"
    REDIS = "redis", "Redis (change subscription sink)"


DEFAULT_PORTS = {Engine.MYSQL: 3306, Engine.POSTGRESQL: 5432, Engine.MONGODB: 27017, Engine.REDIS: 6379}


class Datasource(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="datasources")
    name = models.CharField(max_length=100)
    engine = models.CharField(max_length=16, choices=Engine.choices)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    user = models.CharField(max_length=128, blank=True)
    password = EncryptedTextField(blank=True)
    database = models.CharField(max_length=128, blank=True,
                                help_text="Default database; empty means all the user can see.")
    options = models.JSONField(default=dict, blank=True,
                               help_text="Engine options, e.g. {\"ssl\": true, \"charset\": \"utf8mb4\"}.")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_check_status = models.CharField(max_length=16, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="datasource_name_per_workspace")]

    def __str__(self) -> str:
        return self.name

    def connection_config(self) -> ConnectionConfig:
        """What the data plane needs to connect; the only place the password leaves the model."""
        return ConnectionConfig(
            engine=self.engine, host=self.host, port=self.port, user=self.user, password=self.password or "",
            database=self.database, options=dict(self.options or {}),
            connect_timeout=settings.DTS_CONNECT_TIMEOUT_SECONDS,
        )


class DatasourceJob(models.Model):
    """A short job against a datasource (pre-flight check or catalog discovery) run on a worker."""

    class Kind(models.TextChoices):
        CHECK = "check", "Pre-flight check"
        DISCOVER = "discover", "Catalog discovery"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    datasource = models.ForeignKey(Datasource, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["datasource", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.datasource} ({self.status})"

    @property
    def done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def mark_running(self) -> None:
        self.status, self.started_at = self.Status.RUNNING, timezone.now()
        self.save(update_fields=["status", "started_at"])

    def finish(self, result: dict[str, Any] | None, error: str = "") -> None:
        self.status = self.Status.FAILED if error else self.Status.SUCCEEDED
        self.result, self.error, self.finished_at = result, error, timezone.now()
        self.save(update_fields=["status", "result", "error", "finished_at"])
        if self.kind == self.Kind.CHECK:
            status = (result or {}).get("status", "failed") if not error else "failed"
            Datasource.objects.filter(pk=self.datasource_id).update(last_check_status=status,
                                                                    last_checked_at=self.finished_at)
