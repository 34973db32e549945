"""Workspace roles, ordered: each role can do everything the ones below it can."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    OWNER = "owner", "Owner"


RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.OWNER: 3}


def at_least(role: str | None, required: str) -> bool:
    return role is not None and RANK[Role(role)] >= RANK[Role(required)]
