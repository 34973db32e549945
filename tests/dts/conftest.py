"""Control-plane fixtures: personas in workspaces, token-authenticated API clients, a real Celery worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from dts.accounts.models import ApiToken, Membership, Workspace
from dts.accounts.roles import Role


@dataclass
class Personas:
    """One workspace with an owner, an operator and a viewer; an outsider who owns another workspace."""

    workspace: Workspace
    other_workspace: Workspace
    owner: Any
    operator: Any
    viewer: Any
    outsider: Any

    def client(self, user: Any) -> APIClient:
        """An API client that authenticates like a program does: with a bearer token."""
        _, key = ApiToken.issue(user, "test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client


@pytest.fixture
def personas(db: None) -> Personas:
    users = get_user_model().objects
    owner = users.create_user("olivia", "olivia@example.com", "pw-olivia-123")
    operator = users.create_user("oscar", "oscar@example.com", "pw-oscar-123")
    viewer = users.create_user("vera", "vera@example.com", "pw-vera-123")
    outsider = users.create_user("xander", "xander@example.com", "pw-xander-123")
    workspace = Workspace.objects.create(name="acme")
    other = Workspace.objects.create(name="elsewhere")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    Membership.objects.create(workspace=workspace, user=operator, role=Role.OPERATOR)
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.VIEWER)
    Membership.objects.create(workspace=other, user=outsider, role=Role.OWNER)
    return Personas(workspace, other, owner, operator, viewer, outsider)


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker on the real Redis broker, in a thread of the test process."""
    from celery.contrib.testing.worker import start_worker

    from dts.celery import app

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30,
                      queues=["default", "stream", "snapshot", "compare"]) as worker:
        yield worker
