"""What an alert says, independent of where it goes: every channel formats this one record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from dts.monitor import conf
from dts.monitor.models import AlertChannel, AlertEvent, Notice, RuleKind

# The measured quantity behind each rule kind, as it appears in messages and payloads.
METRICS: dict[str, str] = {
    RuleKind.LAG: "lag_seconds",
    RuleKind.TASK_FAILED: "task_failed",
    RuleKind.STALLED: "frozen_behind_seconds",
    RuleKind.RETENTION: "binlog_seconds_left",
    RuleKind.COMPARE_DIFF: "compare_differences",
    RuleKind.QUARANTINE: "quarantined_rows",
}


@dataclass(frozen=True)
class AlertMessage:
    state: str  # firing, resolved or test
    severity: str
    task_id: int | None
    task_name: str
    workspace: str
    rule_id: int | None
    rule_name: str
    rule_kind: str
    metric: str
    value: float | None
    threshold: float | None
    detail: str
    at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    link: str
    event_id: int | None = None

    @property
    def title(self) -> str:
        if self.state == Notice.TEST:
            return f"[TEST] DTS alert channel test ({self.workspace})"
        return f"[{self.state.upper()}] {self.severity}: {self.rule_name} on {self.task_name}"

    def fields(self) -> list[tuple[str, str]]:
        """Label and value pairs, in reading order, for the human-readable formats."""
        return [
            ("Task", f"{self.task_name} (#{self.task_id})" if self.task_id else self.task_name),
            ("Rule", f"{self.rule_name} ({self.rule_kind})"),
            ("Metric", self.metric),
            ("Value", _number(self.value)),
            ("Threshold", _number(self.threshold)),
            ("Severity", self.severity),
            ("State", self.state),
            ("Time", self.at.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ]

    def text(self) -> str:
        lines = [self.title, *(f"{label}: {value}" for label, value in self.fields())]
        if self.detail:
            lines.append(self.detail)
        lines.append(self.link)
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", *(f"- **{label}**: {value}" for label, value in self.fields())]
        if self.detail:
            lines += ["", self.detail]
        lines += ["", f"[Open the task]({self.link})"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The generic webhook's body: stable keys a receiving program can rely on."""
        return {
            "version": 1,
            "title": self.title,
            "state": self.state,
            "severity": self.severity,
            "event_id": self.event_id,
            "task": {"id": self.task_id, "name": self.task_name, "workspace": self.workspace},
            "rule": {"id": self.rule_id, "name": self.rule_name, "kind": self.rule_kind},
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.detail,
            "at": self.at.isoformat(),
            "fired_at": self.fired_at.isoformat() if self.fired_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "url": self.link,
            "text": self.text(),
        }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def task_link(task_id: int) -> str:
    return f"{conf.public_url()}/tasks/{task_id}"


def compare_link() -> str:
    return f"{conf.public_url()}/compare"


def for_event(event: AlertEvent, notice: str) -> AlertMessage:
    rule, task = event.rule, event.task
    resolved = notice == Notice.RESOLVED
    if task is not None:
        task_id, task_name, workspace, link = task.pk, task.name, task.workspace.name, task_link(task.pk)
    else:  # about a compare task (a standalone compare): named as such, linked to the compare page
        compare = event.compare_task
        task_id, task_name, workspace, link = None, f"compare task '{compare.name}' (#{compare.pk})", \
            compare.workspace.name, compare_link()
    return AlertMessage(
        state=notice, severity=rule.severity, task_id=task_id, task_name=task_name,
        workspace=workspace, rule_id=rule.pk, rule_name=rule.name, rule_kind=rule.kind,
        metric=METRICS.get(rule.kind, rule.kind), value=event.value, threshold=rule.threshold,
        detail=("Resolved: " if resolved else "") + event.message,
        at=(event.resolved_at or timezone.now()) if resolved else timezone.now(),
        fired_at=event.fired_at, resolved_at=event.resolved_at if resolved else None,
        link=link, event_id=event.pk,
    )


def for_test(channel: AlertChannel) -> AlertMessage:
    return AlertMessage(
        state=Notice.TEST, severity="info", task_id=None, task_name="(test)", workspace=channel.workspace.name,
        rule_id=None, rule_name="channel test", rule_kind="test", metric="test", value=None, threshold=None,
        detail=f"A test message for the alert channel '{channel.name}'. If you read this, it works.",
        at=timezone.now(), fired_at=None, resolved_at=None, link=f"{conf.public_url()}/", event_id=None,
    )
