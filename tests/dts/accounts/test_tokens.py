"""API tokens: shown once, stored hashed, revocable, and session auth needs CSRF."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dts.accounts.models import ApiToken
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_and_stored_as_a_hash(personas: Personas) -> None:
    client = APIClient()
    client.force_login(personas.operator)
    client.enforce_csrf_checks = False
    created = client.post("/api/tokens/", {"name": "ci"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    token = ApiToken.objects.get(pk=created.json()["id"])
    assert key not in (token.key_hash, token.key_prefix)
    assert token.key_hash == ApiToken.hash_key(key)
    listing = client.get("/api/tokens/").json()["results"]
    assert all("key" not in item for item in listing)

    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert program.get("/api/me/").json()["username"] == "oscar"


def test_a_revoked_token_no_longer_authenticates(personas: Personas) -> None:
    token, key = ApiToken.issue(personas.operator, "temp")
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert program.get("/api/me/").status_code == 200
    assert program.delete(f"/api/tokens/{token.pk}/").status_code == 204
    assert program.get("/api/me/").status_code == 401


def test_users_cannot_see_or_revoke_each_others_tokens(personas: Personas) -> None:
    token, _ = ApiToken.issue(personas.owner, "owner-token")
    client = personas.client(personas.operator)
    assert client.delete(f"/api/tokens/{token.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_an_expired_token_is_refused(personas: Personas) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _, key = ApiToken.issue(personas.operator, "old", expires_at=timezone.now() - timedelta(seconds=1))
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert program.get("/api/me/").status_code == 401


def test_session_writes_need_the_csrf_token(personas: Personas) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas.operator)
    refused = client.post("/api/tokens/", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/")  # the console page sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post("/api/tokens/", {"name": "x"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201
