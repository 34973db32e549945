"""Writing the audit log. Secret fields are recorded as changed, never with their value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from dts.accounts.models import AuditLog, Workspace
from dts.live import publish

REDACTED = "********"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, models.Model):
        return value.pk
    return str(value)


def snapshot(instance: models.Model, secret_fields: Iterable[str] = ()) -> dict[str, Any]:
    """Field values of a model instance for diffing, with secrets replaced by a marker."""
    secret = set(secret_fields)
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            continue  # bookkeeping timestamps would make every diff noisy
        name = field.attname
        values[field.name] = REDACTED if field.name in secret else _jsonable(getattr(instance, name))
    return values


def changed_secrets(before: models.Model | None, after: models.Model, secret_fields: Iterable[str]) -> list[str]:
    """Secret fields whose value differs, compared in memory (the values are never recorded)."""
    return [name for name in secret_fields
            if before is None or getattr(before, name) != getattr(after, name)]


def diff(before: dict[str, Any], after: dict[str, Any], secret_fields: Iterable[str] = (),
         changed_secrets: Iterable[str] = ()) -> dict[str, list[Any]]:
    """{field: [old, new]} for fields that changed; a changed secret shows only the marker."""
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    for name in set(changed_secrets) & set(secret_fields):
        changes[name] = [REDACTED, REDACTED]
    return changes


def record(action: str, *, actor: Any = None, obj: models.Model | None = None,
           workspace: Workspace | None = None, changes: dict[str, Any] | None = None,
           remote_addr: str | None = None, object_repr: str | None = None) -> AuditLog:
    user = actor if getattr(actor, "is_authenticated", False) else None
    if workspace is None and obj is not None:
        workspace = getattr(obj, "workspace", None) if not isinstance(obj, Workspace) else obj
    entry = AuditLog.objects.create(
        actor=user,
        actor_name=getattr(actor, "username", "") or "",
        action=action,
        workspace=workspace,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr if object_repr is not None else str(obj) if obj is not None else "")[:200],
        changes=_jsonable(changes or {}),
        remote_addr=remote_addr,
    )
    if entry.workspace_id is not None:
        event = {"type": "audit", "id": entry.pk, "action": entry.action, "actor": entry.actor_name,
                 "object_type": entry.object_type, "object_id": entry.object_id, "object": entry.object_repr}
        workspace_id = entry.workspace_id
        transaction.on_commit(lambda: publish.to_workspace(workspace_id, event))
    return entry


def client_ip(request: Any) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None
