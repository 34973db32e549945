"""Alert channels (where to send), rules (when), events (what fired) and deliveries (each attempt).

An event is open (firing) at most once per rule and task (or, for a compare task of its own, per
rule and compare task), enforced by the database; it is re-announced after the rule's repeat
interval and announced again when it resolves.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from dts.accounts.models import Workspace
from dts.fields import EncryptedTextField
from dts.sync.models import SyncTask


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Generic JSON webhook"
    FEISHU = "feishu", "Feishu / Lark bot"
    DINGTALK = "dingtalk", "DingTalk robot"
    WECOM = "wecom", "WeCom robot"
    SLACK = "slack", "Slack incoming webhook"
    EMAIL = "email", "Email"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class RuleKind(models.TextChoices):
    LAG = "lag", "Lag above X seconds for Y seconds"
    TASK_FAILED = "task_failed", "Task failed"
    STALLED = "stalled", "Runner alive but position frozen while the source moves"
    RETENTION = "retention", "Binlog time left before purge below X seconds"
    COMPARE_DIFF = "compare_diff", "Compare found differences"
    QUARANTINE = "quarantine", "Quarantined rows above N"


class Notice(models.TextChoices):
    """Which message a delivery carries."""

    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test message"


class AlertChannel(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    url = models.CharField(max_length=1000, blank=True, help_text="Webhook address; empty for email.")
    secret = EncryptedTextField(blank=True, help_text="Signing secret; never shown again once saved.")
    options = models.JSONField(default=dict, blank=True,
                               help_text='Kind options, e.g. {"msg_type": "text"} (Feishu) or '
                                         '{"recipients": ["ops@example.com"]} (email).')
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="alert_channel_name_per_workspace")]

    def __str__(self) -> str:
        return self.name


class AlertRule(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alert_rules")
    task = models.ForeignKey(SyncTask, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules",
                             help_text="Empty: every task of the workspace.")
    compare_task = models.ForeignKey(
        "compare.CompareTask", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules",
        help_text="compare_diff only: this compare task's runs (standalone or attached) instead of a sync task's.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    threshold = models.FloatField(null=True, blank=True,
                                  help_text="lag: seconds of lag; stalled: seconds frozen (default 60); "
                                            "retention: seconds left; quarantine: rows.")
    for_seconds = models.PositiveIntegerField(default=0, help_text="The condition must hold this long to fire.")
    channels = models.ManyToManyField(AlertChannel, blank=True, related_name="rules")
    repeat_interval_seconds = models.PositiveIntegerField(
        default=3600, help_text="Send a firing alert again after this long; 0 sends it once.")
    silenced_until = models.DateTimeField(null=True, blank=True,
                                          help_text="Until then, events are recorded but nothing is sent.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="alert_rule_name_per_workspace")]

    def __str__(self) -> str:
        return self.name

    def is_silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and self.silenced_until > now

    def applies_to(self, task: SyncTask) -> bool:
        # A rule aimed at a compare task is about that compare's runs, not about any sync task.
        return self.workspace_id == task.workspace_id and self.task_id in (None, task.pk) and \
            self.compare_task_id is None


class EventState(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    # What the event is about: a sync task, or (task empty) a compare task of the rule's.
    task = models.ForeignKey(SyncTask, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_events")
    compare_task = models.ForeignKey("compare.CompareTask", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="alert_events")
    state = models.CharField(max_length=16, choices=EventState.choices, default=EventState.FIRING)
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, help_text="When the firing message last went out.")
    times_sent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            # Deduplication: one open event per rule and task, whatever runs concurrently.
            models.UniqueConstraint(fields=["rule", "task"], condition=models.Q(state="firing"),
                                    name="one_open_alert_per_rule_and_task"),
            models.UniqueConstraint(fields=["rule", "compare_task"],
                                    condition=models.Q(state="firing", task__isnull=True),
                                    name="one_open_alert_per_rule_and_compare_task"),
            models.CheckConstraint(condition=models.Q(task__isnull=False) | models.Q(compare_task__isnull=False),
                                   name="alert_event_has_a_subject"),
        ]
        indexes = [models.Index(fields=["state", "task"])]

    def __str__(self) -> str:
        return f"{self.rule} on {self.task if self.task_id else self.compare_task}: {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state == EventState.FIRING

    def due_for_repeat(self, now: datetime) -> bool:
        """Whether the firing message should go out (again) now."""
        if self.last_sent_at is None:
            return True  # never announced, e.g. fired while silenced
        interval = self.rule.repeat_interval_seconds
        return interval > 0 and (now - self.last_sent_at).total_seconds() >= interval

    def mark_sent(self, now: datetime) -> None:
        self.last_sent_at, self.times_sent = now, self.times_sent + 1
        self.save(update_fields=["last_sent_at", "times_sent"])

    def update_value(self, value: float | None, message: str) -> None:
        if value != self.value or message != self.message:
            self.value, self.message = value, message
            self.save(update_fields=["value", "message"])

    def resolve(self, now: datetime) -> None:
        self.state, self.resolved_at = EventState.RESOLVED, now
        self.save(update_fields=["state", "resolved_at"])


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed; will retry"
    FAILED = "failed", "Failed"


class AlertDelivery(models.Model):
    """One attempt to send one message to one channel."""

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries",
                              help_text="Empty for a test message.")
    notice = models.CharField(max_length=16, choices=Notice.choices)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "alert deliveries"

    def __str__(self) -> str:
        return f"{self.notice} to {self.channel}: {self.status} (attempt {self.attempt})"
