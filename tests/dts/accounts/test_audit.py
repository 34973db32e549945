"""The audit log: every create, update, delete and login; never a secret; never rewritten."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from dts.accounts.models import AuditLog
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


def test_datasource_changes_are_audited_without_the_password(personas: Personas) -> None:
    client = personas.client(personas.operator)
    created = client.post("/api/datasources/", {"workspace": personas.workspace.pk, "name": "src", "engine": "mysql",
                                                "host": "h1", "user": "dts", "password": "Very-Secret-1"},
                          format="json").json()
    client.patch(f"/api/datasources/{created['id']}/", {"host": "h2", "password": "Very-Secret-2"}, format="json")
    client.delete(f"/api/datasources/{created['id']}/")

    entries = list(AuditLog.objects.filter(object_type="datasources.datasource").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.actor_name == "oscar" and e.workspace_id == personas.workspace.pk for e in entries)
    assert entries[1].changes["host"] == ["h1", "h2"]
    assert entries[1].changes["password"] == ["********", "********"]
    dumped = json.dumps([e.changes for e in entries]) + " ".join(e.object_repr for e in entries)
    assert "Very-Secret" not in dumped


def test_the_audit_log_cannot_be_rewritten(personas: Personas) -> None:
    from dts.accounts import audit

    entry = audit.record("test", actor=personas.owner, workspace=personas.workspace)
    entry.action = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "test"


def test_logins_and_failed_logins_are_audited(personas: Personas) -> None:
    client = APIClient()
    assert client.login(username="vera", password="pw-vera-123")
    assert not client.login(username="vera", password="wrong-password")
    actions = list(AuditLog.objects.filter(action__startswith="login").values_list("action", "object_repr"))
    assert ("login", "vera") in actions
    assert ("login_failed", "vera") in actions
    assert "wrong-password" not in json.dumps(list(AuditLog.objects.values_list("changes", flat=True)))


def test_members_read_their_workspace_audit_and_outsiders_do_not(personas: Personas) -> None:
    personas.client(personas.operator).post(
        "/api/datasources/", {"workspace": personas.workspace.pk, "name": "src", "engine": "mysql", "host": "h"},
        format="json")
    viewer_view = personas.client(personas.viewer).get("/api/audit-log/?action=create").json()
    assert any(e["object_repr"] == "src" for e in viewer_view["results"])
    outsider_view = personas.client(personas.outsider).get("/api/audit-log/").json()
    assert all(e["object_repr"] != "src" for e in outsider_view["results"])
