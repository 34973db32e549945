"""The console's page and its JSON session login (/api/session/): CSRF-checked, audited, no secrets echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dts.accounts.models import AuditLog
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


def csrf_client() -> tuple[Client, str]:
    """A browser-like client: CSRF enforced, token taken from the cookie the session endpoint sets."""
    client = Client(enforce_csrf_checks=True)
    answer = client.get("/api/session/")
    assert answer.status_code == 200 and answer.json() == {"authenticated": False, "username": None}
    return client, answer.cookies["csrftoken"].value


def test_signing_in_and_out_with_json_and_the_csrf_token(personas: Personas) -> None:
    client, token = csrf_client()
    assert client.get("/api/me/").status_code in (401, 403)
    answer = client.post("/api/session/", {"username": "olivia", "password": "pw-olivia-123"},
                         content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"authenticated": True, "username": "olivia"}
    me = client.get("/api/me/").json()
    assert me["username"] == "olivia" and me["workspaces"] == [{"id": personas.workspace.pk, "name": "acme",
                                                               "role": "owner"}]
    assert AuditLog.objects.filter(action="login", actor_name="olivia").count() == 1
    token = client.cookies["csrftoken"].value  # rotated at login
    assert client.delete("/api/session/", HTTP_X_CSRFTOKEN=token).json()["authenticated"] is False
    assert client.get("/api/me/").status_code in (401, 403)
    assert AuditLog.objects.filter(action="logout", actor_name="olivia").count() == 1


def test_a_post_without_the_csrf_token_is_refused(personas: Personas) -> None:
    client, _ = csrf_client()
    answer = client.post("/api/session/", {"username": "olivia", "password": "pw-olivia-123"},
                         content_type="application/json")
    assert answer.status_code == 403
    assert client.get("/api/me/").status_code in (401, 403)


def test_a_wrong_password_is_refused_audited_and_not_echoed(personas: Personas) -> None:
    client, token = csrf_client()
    answer = client.post("/api/session/", {"username": "olivia", "password": "not-her-password"},
                         content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400
    assert answer.json() == {"non_field_errors": ["Wrong user name or password."]}
    assert b"not-her-password" not in answer.content
    failed = AuditLog.objects.get(action="login_failed")
    assert failed.object_repr == "olivia" and "not-her-password" not in str(failed.changes)
    assert client.get("/api/me/").status_code in (401, 403)


def test_missing_fields_are_named(personas: Personas) -> None:
    client, token = csrf_client()
    answer = client.post("/api/session/", {"username": "olivia"}, content_type="application/json",
                         HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400 and answer.json() == {"password": ["This field is required."]}
    answer = client.post("/api/session/", "[1]", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400 and set(answer.json()) == {"username", "password"}
    answer = client.post("/api/session/", "{nope", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400 and "JSON" in answer.json()["non_field_errors"][0]


def test_console_routes_serve_the_built_app_and_leave_the_api_alone(settings: Any, tmp_path: Path) -> None:
    dist = tmp_path / "frontend" / "dist"
    dist.mkdir(parents=True)
    (dist / "index.html").write_text('<div id="root"></div><script src="/static/console/assets/x.js"></script>')
    settings.BASE_DIR = tmp_path
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path / "frontend"]}]
    client = Client()
    for path in ("/", "/login", "/tasks/5", "/compare/runs/3", "/workspace"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert b'<div id="root">' in answer.content and "csrftoken" in answer.cookies, path
    assert client.get("/api/no-such-thing/").status_code == 404
    assert b'id="root"' not in client.get("/api/no-such-thing/").content
    assert client.get("/tasksx").status_code == 404  # only the console's own paths


def test_an_unbuilt_console_says_how_to_build_it(settings: Any, tmp_path: Path) -> None:
    settings.BASE_DIR = tmp_path
    answer = Client().get("/dashboard")
    assert answer.status_code == 503
    assert b"npm run build" in answer.content and b"make run" in answer.content
