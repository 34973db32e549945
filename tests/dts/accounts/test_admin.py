"""The admin panel: every model is registered, changes are audited, passwords never shown."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


def test_every_platform_model_is_in_the_admin() -> None:
    ours = [m for m in apps.get_models() if m.__module__.startswith("dts.")]
    missing = [m.__name__ for m in ours if m not in admin.site._registry]
    assert ours and missing == []


def test_admin_edits_are_audited_and_the_password_stays_hidden(personas: Personas) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-123")
    client = Client()
    assert client.login(username="root", password="pw-root-123")
    form = {"workspace": personas.workspace.pk, "name": "adm", "engine": "mysql", "host": "h", "port": 3306,
            "user": "u", "password": "Admin-Secret-9", "database": "", "options": "{}", "description": ""}
    response = client.post("/admin/datasources/datasource/add/", form)
    assert response.status_code == 302, response.content[:2000]
    ds = Datasource.objects.get(name="adm")
    assert ds.password == "Admin-Secret-9"
    page = client.get(f"/admin/datasources/datasource/{ds.pk}/change/").content.decode()
    assert "Admin-Secret-9" not in page

    form.update(host="h2", password="")  # empty keeps the password
    assert client.post(f"/admin/datasources/datasource/{ds.pk}/change/", form).status_code == 302
    ds.refresh_from_db()
    assert (ds.host, ds.password) == ("h2", "Admin-Secret-9")

    entries = list(AuditLog.objects.filter(object_type="datasources.datasource").order_by("id"))
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes == {"host": ["h", "h2"]}
    assert "Admin-Secret-9" not in json.dumps([e.changes for e in entries])
