"""The admin panel shows every monitor model; a channel's secret is never rendered nor audited."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dts.accounts.models import AuditLog
from dts.monitor.models import AlertChannel
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(personas: Personas) -> Client:
    user = get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-123")
    client = Client()
    client.force_login(user)
    return client


def test_every_monitor_page_opens(admin_client_logged_in: Client) -> None:
    for model in ("alertchannel", "alertrule", "alertevent", "alertdelivery"):
        assert admin_client_logged_in.get(f"/admin/monitor/{model}/").status_code == 200, model
    assert admin_client_logged_in.get("/admin/monitor/alertchannel/add/").status_code == 200
    assert admin_client_logged_in.get("/admin/monitor/alertrule/add/").status_code == 200


def test_the_channel_secret_stays_hidden_and_out_of_the_audit_log(personas: Personas,
                                                                  admin_client_logged_in: Client) -> None:
    form = {"workspace": personas.workspace.pk, "name": "hook", "kind": "webhook", "url": "https://hooks.example/x",
            "secret": "Admin-Hook-Secret-7", "options": "{}", "enabled": "on"}
    response = admin_client_logged_in.post("/admin/monitor/alertchannel/add/", form)
    assert response.status_code == 302, response.content[:2000]
    channel = AlertChannel.objects.get(name="hook")
    assert channel.secret == "Admin-Hook-Secret-7"
    page = admin_client_logged_in.get(f"/admin/monitor/alertchannel/{channel.pk}/change/").content.decode()
    assert "Admin-Hook-Secret-7" not in page
    form.update(url="https://hooks.example/y", secret="")  # empty keeps the secret
    admin_client_logged_in.post(f"/admin/monitor/alertchannel/{channel.pk}/change/", form)
    channel.refresh_from_db()
    assert channel.secret == "Admin-Hook-Secret-7" and channel.url == "https://hooks.example/y"
    audited = json.dumps(list(AuditLog.objects.filter(object_type="monitor.alertchannel").values("changes")))
    assert "Admin-Hook-Secret-7" not in audited
