"""Secrets at rest: Fernet with rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from dts.accounts.models import Workspace
from dts.datasources.models import Datasource
from dts.encryption import DecryptionError

pytestmark = pytest.mark.django_db


def stored_password(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM datasources_datasource WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_go() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    workspace = Workspace.objects.create(name="w")
    with override_settings(DTS_ENCRYPTION_KEYS=[old]):
        ds = Datasource.objects.create(workspace=workspace, name="d", engine="mysql", host="h", port=1,
                                       password="rotate-me")
        before = stored_password(ds.pk)
    with override_settings(DTS_ENCRYPTION_KEYS=[new, old]):
        assert Datasource.objects.get(pk=ds.pk).password == "rotate-me"
        call_command("rotate_encryption_key")
        assert stored_password(ds.pk) != before
    with override_settings(DTS_ENCRYPTION_KEYS=[new]):
        assert Datasource.objects.get(pk=ds.pk).password == "rotate-me"
    with override_settings(DTS_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(DecryptionError, match="DTS_ENCRYPTION_KEYS"):
            Datasource.objects.get(pk=ds.pk)
