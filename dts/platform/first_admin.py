"""The first administrator and workspace of a new install."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from dts.accounts.models import Membership, Workspace
from dts.accounts.roles import Role
from dts.state import generated_value


def ensure_first_admin() -> tuple[str, str | None]:
    """Create a superuser when there is none. Returns (username, password or None if it existed).

    The password comes from DTS_ADMIN_PASSWORD, or is generated once and kept (mode 0600)
    under the state dir so the printed login stays valid across restarts.
    """
    users = get_user_model().objects
    existing = users.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return existing.get_username(), None
    username = os.environ.get("DTS_ADMIN_USER", "admin")
    password = os.environ.get("DTS_ADMIN_PASSWORD") or generated_value(
        "admin_password", lambda: secrets.token_urlsafe(12))
    with transaction.atomic():
        admin = users.create_superuser(username, os.environ.get("DTS_ADMIN_EMAIL", ""), password)
        workspace, _ = Workspace.objects.get_or_create(name="default",
                                                       defaults={"description": "Created at first start."})
        Membership.objects.get_or_create(workspace=workspace, user=admin, defaults={"role": Role.OWNER})
    return username, password
